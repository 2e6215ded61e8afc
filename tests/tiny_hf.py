"""Tiny seeded Hugging Face models of each family, built offline: tokenizers trained in memory,
models saved as safetensors in a folder, as a user would find them. Shared by the tests of
records, blocks and pages."""
import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

CORPUS = ["the cat sat on the mat.", "a dog ran in the park", "hello world, hello there",
          "the quick brown fox jumps over the lazy dog", "she sells sea shells by the sea shore",
          "reverse: hello", "translate the cat into french"] * 3
TINY = dict(layers=2, heads=4, d_model=32, d_ff=64, positions=40)


# ---- tokenizers trained in memory -----------------------------------------------------------

def _template(tokenizer, single: str) -> None:
    names = [word for word in single.split() if word != "$A"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=single, special_tokens=[(name, tokenizer.token_to_id(name)) for name in names])


def wordpiece(specials, single):
    """BERT style: WordPiece over whitespace and punctuation, "##" continuations."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=60, special_tokens=specials,
                                                                    show_progress=False))
    _template(tokenizer, single)
    return tokenizer


def byte_bpe(specials, unk, single=None):
    """GPT-2 style: byte-level BPE, a space is part of the next token ("Ġcat")."""
    tokenizer = Tokenizer(models.BPE(unk_token=unk))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=70, special_tokens=specials,
                                                              show_progress=False))
    if single:
        _template(tokenizer, single)
    return tokenizer


def metaspace_bpe(specials, unk, single):
    """SentencePiece style (LLaMA, T5, Marian): "▁" marks a space."""
    tokenizer = Tokenizer(models.BPE(unk_token=unk))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=70, special_tokens=specials,
                                                              show_progress=False))
    _template(tokenizer, single)
    return tokenizer


BERT_SPECIALS = dict(pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
ROBERTA_SPECIALS = dict(bos_token="<s>", pad_token="<pad>", eos_token="</s>", unk_token="<unk>", mask_token="<mask>")


def _bert_tokenizer():
    return wordpiece(list(BERT_SPECIALS.values()), "[CLS] $A [SEP]"), BERT_SPECIALS


def _roberta_tokenizer():
    return byte_bpe(list(ROBERTA_SPECIALS.values()), "<unk>", "<s> $A </s>"), ROBERTA_SPECIALS


def _gpt2_tokenizer():
    end = "<|endoftext|>"
    return byte_bpe([end], end), dict(bos_token=end, eos_token=end, unk_token=end)


def _llama_tokenizer():
    names = dict(unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    return metaspace_bpe(list(names.values()), "<unk>", "<s> $A"), names


def _t5_tokenizer():
    names = dict(pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    return metaspace_bpe(list(names.values()), "<unk>", "$A </s>"), names


def _marian_tokenizer():
    names = dict(eos_token="</s>", unk_token="<unk>", pad_token="<pad>")
    return metaspace_bpe(list(names.values()), "<unk>", "$A </s>"), names


# ---- tiny models of each family -------------------------------------------------------------

def _model(family: str, vocab: int, ids: dict):
    """A seeded tiny model of the family, sized by TINY."""
    L, H, D, F, P = (TINY[k] for k in ("layers", "heads", "d_model", "d_ff", "positions"))
    c = transformers
    made = {
        "bert": lambda: (c.BertForMaskedLM, c.BertConfig(
            vocab_size=vocab, hidden_size=D, num_hidden_layers=L, num_attention_heads=H, intermediate_size=F,
            max_position_embeddings=P, pad_token_id=ids["pad"], initializer_range=0.3)),
        "roberta": lambda: (c.RobertaForMaskedLM, c.RobertaConfig(
            vocab_size=vocab, hidden_size=D, num_hidden_layers=L, num_attention_heads=H, intermediate_size=F,
            max_position_embeddings=P + 2, pad_token_id=ids["pad"], bos_token_id=ids["bos"],
            eos_token_id=ids["eos"], type_vocab_size=1, initializer_range=0.3)),
        "distilbert": lambda: (c.DistilBertForMaskedLM, c.DistilBertConfig(
            vocab_size=vocab, dim=D, n_layers=L, n_heads=H, hidden_dim=F, max_position_embeddings=P,
            pad_token_id=ids["pad"], initializer_range=0.3)),
        "gpt2": lambda: (c.GPT2LMHeadModel, c.GPT2Config(
            vocab_size=vocab, n_embd=D, n_layer=L, n_head=H, n_positions=P, bos_token_id=ids["eos"],
            eos_token_id=ids["eos"], initializer_range=0.3)),
        "llama": lambda: (c.LlamaForCausalLM, c.LlamaConfig(
            vocab_size=vocab, hidden_size=D, intermediate_size=F, num_hidden_layers=L, num_attention_heads=H,
            num_key_value_heads=H // 2, max_position_embeddings=P, bos_token_id=ids["bos"],
            eos_token_id=ids["eos"], initializer_range=0.3)),
        "qwen2": lambda: (c.Qwen2ForCausalLM, c.Qwen2Config(
            vocab_size=vocab, hidden_size=D, intermediate_size=F, num_hidden_layers=L, num_attention_heads=H,
            num_key_value_heads=1, max_position_embeddings=P, eos_token_id=ids["eos"],
            bos_token_id=ids["eos"], initializer_range=0.3, tie_word_embeddings=False)),
        "bart": lambda: (c.BartForConditionalGeneration, c.BartConfig(
            vocab_size=vocab, d_model=D, encoder_layers=L, decoder_layers=L, encoder_attention_heads=H,
            decoder_attention_heads=H, encoder_ffn_dim=F, decoder_ffn_dim=F, max_position_embeddings=P,
            pad_token_id=ids["pad"], bos_token_id=ids["bos"], eos_token_id=ids["eos"],
            decoder_start_token_id=ids["eos"], forced_eos_token_id=None, init_std=0.3)),
        "marian": lambda: (c.MarianMTModel, c.MarianConfig(
            vocab_size=vocab, d_model=D, encoder_layers=L, decoder_layers=L, encoder_attention_heads=H,
            decoder_attention_heads=H, encoder_ffn_dim=F, decoder_ffn_dim=F, max_position_embeddings=P,
            pad_token_id=ids["pad"], eos_token_id=ids["eos"], decoder_start_token_id=ids["pad"],
            forced_eos_token_id=None, init_std=0.3)),
        "t5": lambda: (c.T5ForConditionalGeneration, c.T5Config(
            vocab_size=vocab, d_model=D, d_kv=D // H, d_ff=F, num_layers=L, num_decoder_layers=L, num_heads=H,
            relative_attention_num_buckets=8, relative_attention_max_distance=16, feed_forward_proj="relu",
            pad_token_id=ids["pad"], eos_token_id=ids["eos"], decoder_start_token_id=ids["pad"])),
    }
    cls, config = made[family]()
    torch.manual_seed(0)
    return cls(config).eval()


TOKENIZERS = {"bert": _bert_tokenizer, "distilbert": _bert_tokenizer, "roberta": _roberta_tokenizer,
              "bart": _roberta_tokenizer, "gpt2": _gpt2_tokenizer, "qwen2": _gpt2_tokenizer,
              "llama": _llama_tokenizer, "t5": _t5_tokenizer, "marian": _marian_tokenizer}
FAMILIES = ["bert", "roberta", "distilbert", "gpt2", "llama", "qwen2", "bart", "marian", "t5"]
ARCHITECTURES = {"bert": "encoder-only", "roberta": "encoder-only", "distilbert": "encoder-only",
                 "gpt2": "decoder-only", "llama": "decoder-only", "qwen2": "decoder-only",
                 "bart": "encoder-decoder", "marian": "encoder-decoder", "t5": "encoder-decoder"}
KINDS = {"encoder-only": ["encoder"], "decoder-only": ["decoder"], "encoder-decoder": ["encoder", "decoder", "cross"]}
TEXT = "the cat sat on the mat."
TARGET = "hello world"


def build(family: str, folder) -> None:
    """A seeded tiny model of the family and its tokenizer, saved as a user would find them."""
    tokenizer, names = TOKENIZERS[family]()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, model_max_length=TINY["positions"],
                                                **names)
    ids = {key: fast.convert_tokens_to_ids(names[f"{key}_token"]) if f"{key}_token" in names else None
           for key in ("pad", "bos", "eos")}
    _model(family, fast.vocab_size, ids).save_pretrained(folder)   # safetensors
    fast.save_pretrained(folder)


LONG_POSITIONS = 2048


def build_long(folder, positions: int = LONG_POSITIONS) -> None:
    """A seeded tiny random GPT-2 that reads `positions` tokens (n_positions 2048: a long-context
    decoder, 2 layers x 2 heads, d_model 32) and its byte-level tokenizer, saved as a user would
    find them. For long inputs: the corpus's words are a few tokens each, so a few thousand
    characters of them fill the context."""
    tokenizer, names = _gpt2_tokenizer()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, model_max_length=positions, **names)
    end = fast.convert_tokens_to_ids(names["eos_token"])
    config = transformers.GPT2Config(vocab_size=fast.vocab_size, n_embd=32, n_layer=2, n_head=2, n_inner=64,
                                     n_positions=positions, bos_token_id=end, eos_token_id=end,
                                     initializer_range=0.3)
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(config).eval().save_pretrained(folder)   # safetensors
    fast.save_pretrained(folder)
