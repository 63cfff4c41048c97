// xterm.js writes its theme and cell sizes into <style> elements it makes itself; the console's CSP
// (style-src 'self', no 'unsafe-inline') refuses those. While a terminal is open, every <style> the page
// makes is given a type browsers do not treat as CSS (so nothing inline is ever applied or refused), and
// its text is mirrored into a constructed stylesheet adopted by the document, which CSP allows.

const INERT_TYPE = "text/x-custody-adopted";

export interface AdoptedStyles {
  dispose(): void;
}

export function adoptInjectedStyles(doc: Document = document): AdoptedStyles {
  const original = doc.createElement;
  const observers: MutationObserver[] = [];
  const sheets: CSSStyleSheet[] = [];
  const mirror = (element: HTMLElement) => {
    const sheet = new CSSStyleSheet();
    sheets.push(sheet);
    doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
    const update = () => sheet.replaceSync(element.textContent ?? "");
    const observer = new MutationObserver(update);
    observer.observe(element, { childList: true, characterData: true, subtree: true });
    observers.push(observer);
  };
  const patched = function (this: Document, tag: string, options?: ElementCreationOptions) {
    const element = original.call(this, tag, options);
    if (tag.toLowerCase() === "style") {
      element.setAttribute("type", INERT_TYPE);
      mirror(element);
    }
    return element;
  };
  doc.createElement = patched as typeof doc.createElement;
  return {
    dispose() {
      if (doc.createElement === (patched as unknown)) doc.createElement = original;
      for (const observer of observers) observer.disconnect();
      doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => !sheets.includes(s));
    },
  };
}
