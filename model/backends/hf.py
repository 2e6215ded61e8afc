from ..hf import *  # noqa: F401,F403  (temporary, during the runner refactor)
from ..hf import load_hf, HFModel  # noqa: F401
