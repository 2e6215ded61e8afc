// "Copy link": the address bar's URL (which the app keeps equal to the view, ui/context.sync_url)
// goes to the clipboard. Where the browser refuses the clipboard (a page served over plain http
// to another machine is not a secure context), the link is selected in the field beside the
// button, for Ctrl+C. Labels come from Python (ui/share.py), in the interface language.
export default function (component) {
  const { parentElement, data } = component;
  const button = parentElement.querySelector("button.copy");
  const field = parentElement.querySelector("input.link");
  const status = parentElement.querySelector(".status");
  button.textContent = data.copy;
  field.value = window.location.href;
  const refresh = () => { field.value = window.location.href; };
  // the URL changes after each run and on Back/Forward; show the current one
  const timer = window.setInterval(refresh, 1000);
  window.addEventListener("popstate", refresh);
  button.onclick = async () => {
    refresh();
    try {
      await navigator.clipboard.writeText(field.value);
      status.textContent = data.copied;
    } catch (error) {
      field.focus();
      field.select();
      status.textContent = data.manual;
    }
  };
  return () => {
    window.clearInterval(timer);
    window.removeEventListener("popstate", refresh);
  };
}
