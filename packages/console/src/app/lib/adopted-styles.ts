// xterm.js writes its theme and cell sizes into <style> elements it makes itself; the console's CSP
// (style-src 'self', no 'unsafe-inline') refuses those. While a terminal is open, a <style> the page asks
// for is made as an inert, hidden element instead (so nothing inline is ever applied or refused), and
// its text is mirrored into a constructed stylesheet adopted by the document, which CSP allows; a
// `style` attribute it sets on a cell goes through the CSSOM (element.style), which CSP allows too.

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
    // not a <style> at all (CSP checks every <style>, whatever its type): a hidden element that holds the text
    const element = original.call(this, INERT_TAG);
    element.hidden = true;
    mirror(element);
    return element;
  };
  doc.createElement = patched as typeof doc.createElement;
  // a style attribute is inline style too: it is set through the CSSOM instead, which CSP allows
  const proto = (doc.defaultView ?? globalThis).Element.prototype;
  const setAttribute = proto.setAttribute;
  const styledSetAttribute = function (this: Element, name: string, value: string) {
    if (name.toLowerCase() === "style" && this instanceof (doc.defaultView ?? globalThis).HTMLElement) {
      this.style.cssText = value;
      return;
    }
    setAttribute.call(this, name, value);
  };
  proto.setAttribute = styledSetAttribute;
  return {
    dispose() {
      if (proto.setAttribute === styledSetAttribute) proto.setAttribute = setAttribute;
      if (doc.createElement === (patched as unknown)) doc.createElement = original;
      for (const observer of observers) observer.disconnect();
      doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => !sheets.includes(s));
    },
  };
}
