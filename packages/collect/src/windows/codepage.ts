/**
 * Console code pages. Windows console tools write in the console's output code page (the OEM page by
 * default: 437 en-US, 850 western Europe, 866 Russian, 936 Chinese), not UTF-8. TextDecoder knows the
 * windows-125x pages, ibm866 and the East Asian ones, but not the DOS pages 437 and 850: those two are
 * decoded here from their tables (bytes 0x80-0xFF; 0x00-0x7F is ASCII).
 */

const CP437_HIGH =
  "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0";
const CP850_HIGH =
  "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜø£Ø×ƒáíóúñÑªº¿®¬½¼¡«»░▒▓│┤ÁÂÀ©╣║╗╝¢¥┐└┴┬├─┼ãÃ╚╔╩╦╠═╬¤ðÐÊËÈıÍÎÏ┘┌█▄¦Ì▀ÓßÔÒõÕµþÞÚÛÙýÝ¯´\u00ad±‗¾¶§÷¸°¨·¹³²■\u00a0";

const TABLES: Record<number, string> = { 437: CP437_HIGH, 850: CP850_HIGH };

/** Code pages TextDecoder decodes, by their WHATWG label. */
const LABELS: Record<number, string> = {
  866: "ibm866",
  874: "windows-874",
  932: "shift_jis",
  936: "gbk",
  949: "euc-kr",
  950: "big5",
  1200: "utf-16le",
  1250: "windows-1250",
  1251: "windows-1251",
  1252: "windows-1252",
  1253: "windows-1253",
  1254: "windows-1254",
  1255: "windows-1255",
  1256: "windows-1256",
  1257: "windows-1257",
  1258: "windows-1258",
  54936: "gb18030",
  65001: "utf-8",
};

/** Whether `decodeCodePage` knows this code page (otherwise it falls back to UTF-8 and says so). */
export function isKnownCodePage(codePage: number): boolean {
  return codePage in TABLES || codePage in LABELS;
}

export interface Decoded {
  text: string;
  /** The code page the text was decoded with: "850", "65001", "1200" (a UTF-16LE BOM was found). */
  codePage: string;
}

/**
 * Decodes console output written in `codePage`. A UTF-16LE or UTF-8 byte order mark wins over the code
 * page (PowerShell redirections write one). An unknown or absent code page decodes as UTF-8 and the
 * recorded code page says "unknown".
 */
export function decodeCodePage(bytes: Uint8Array, codePage: number | undefined): Decoded {
  if (bytes[0] === 0xff && bytes[1] === 0xfe)
    return { text: new TextDecoder("utf-16le").decode(bytes.subarray(2)), codePage: "1200" };
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    return { text: new TextDecoder("utf-8").decode(bytes.subarray(3)), codePage: "65001" };
  const table = codePage === undefined ? undefined : TABLES[codePage];
  if (table !== undefined) return { text: decodeTable(bytes, table), codePage: String(codePage) };
  const label = codePage === undefined ? undefined : LABELS[codePage];
  if (label !== undefined) return { text: new TextDecoder(label).decode(bytes), codePage: String(codePage) };
  return {
    text: new TextDecoder("utf-8").decode(bytes),
    codePage: codePage === undefined ? "unknown (read as UTF-8)" : `${codePage} unknown (read as UTF-8)`,
  };
}

function decodeTable(bytes: Uint8Array, high: string): string {
  // Every character of both tables is one UTF-16 code unit: map byte to unit, then decode in one go.
  const units = new Uint16Array(bytes.length);
  for (const [i, byte] of bytes.entries()) units[i] = byte < 0x80 ? byte : high.charCodeAt(byte - 0x80);
  return new TextDecoder("utf-16le").decode(units);
}

/** Encodes text into a table code page (437, 850): for building test inputs in a console's own bytes. */
export function encodeCodePage(text: string, codePage: 437 | 850): Uint8Array {
  const high = TABLES[codePage] ?? "";
  const out: number[] = [];
  for (const char of text) {
    const code = char.charCodeAt(0);
    const at = high.indexOf(char);
    out.push(code < 0x80 ? code : at >= 0 ? 0x80 + at : 0x3f);
  }
  return Uint8Array.from(out);
}

/**
 * The active code page from `chcp`'s answer, whatever its language ("Active code page: 850",
 * "Page de codes active : 850", "Aktive Codepage: 850."): the last number on the line.
 */
export function parseChcp(text: string): number | undefined {
  const numbers = text.match(/\d+/g);
  const last = numbers?.[numbers.length - 1];
  return last === undefined ? undefined : Number(last);
}
