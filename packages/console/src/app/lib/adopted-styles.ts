// xterm.js writes its theme and cell sizes into <style> elements it makes itself; the console's CSP
// (style-src 'self', no 'unsafe-inline') refuses those. While a terminal is open, every <style> the page
// makes is an inert, hidden element instead (Chromium reports a <style> element of any type as a CSP
// violation), and its text is mirrored into a constructed stylesheet adopted by the document, which CSP
// allows. xterm.js only sets the element's text, appends and removes it.

const INERT_TAG = "custody-adopted-style";

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
    if (tag.toLowerCase() !== "style") return original.call(this, tag, options);
    const element = original.call(this, INERT_TAG, options);
    element.hidden = true;
    mirror(element);
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
