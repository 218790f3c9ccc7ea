#!/usr/bin/env node
/*
 * patch-uws-glibc.mjs: make uWebSockets.js load on glibc 2.36 (Debian 12).
 *
 * WHAT
 *   Rewrites, in place, the Linux builds of uWebSockets.js
 *   (npm:@btc-vision/uwebsockets.js@20.57.0, uws_linux_{x64,arm64}_{115,127,137,141}.node)
 *   so that their imports of the C23 functions
 *     __isoc23_sscanf, __isoc23_strtol, __isoc23_strtoul   (@GLIBC_2.38)
 *   bind instead to the classic
 *     sscanf, strtol, strtoul   (@GLIBC_2.2.5 on x86_64, @GLIBC_2.17 on aarch64).
 *   (The arm64 builds import only the strtol/strtoul pair, and that is expected.)
 *   Only two small things change: each symbol's .dynsym name offset and
 *   .gnu.version index, and the libc "GLIBC_2.38" entry in .gnu.version_r,
 *   which is renamed to the baseline version (see patchElf for why). The file
 *   size and all code are unchanged.
 *
 * WHY
 *   The upstream binaries are built against glibc >= 2.38, whose headers
 *   silently route sscanf/strtol/strtoul to the __isoc23_* variants. The only
 *   behavioural difference is that the C23 versions also accept a "0b"/"0B"
 *   binary prefix (base 0 or 2). Nothing else in the binaries needs glibc > 2.36
 *   (arc4random@GLIBC_2.36 is the newest remaining requirement), so after
 *   this patch they load on Debian 12.
 *
 * WHEN
 *   Only on Linux with glibc older than 2.38. On other platforms, on musl, or on
 *   glibc >= 2.38 it prints one line and does nothing. Run by `postinstall`.
 *
 * SAFETY
 *   A binary is only touched if its sha256 is one of the known originals
 *   below, and the result must match the known patched sha256 before it is
 *   written. Each result goes to a temp file first, which is then renamed over
 *   the original, so the change is atomic. A binary that already has the
 *   patched hash is left alone, so running the script again is safe. ANY OTHER
 *   HASH IS REFUSED: the script names the file and exits 1. It never guesses
 *   and never falls back to a different implementation. If uWebSockets.js is
 *   upgraded, regenerate the table: patch the new files with patchElf() after
 *   checking them with readelf, as in docs/platforms.md.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// sha256 of the files in @btc-vision/uwebsockets.js@20.57.0 (tarball integrity
// sha512-SuPpEjSKZ7P58L/27BXXsrGsMwLmPupfYny8oJsOmFZ4+zX7Ca97nBPtZ3ngKbfeDZzTyi7rXri74INGerhugg==),
// before and after patching.
export const KNOWN = {
  'uws_linux_x64_115.node': {
    original: '5b126ee00bf754b02e97e4c27090365a8562c5820c93f93918ac2212d4503e91',
    patched: '0b40a7ff2a1e1d38e8d34ac9b69bf5cf757fcbbbe56fe3bc981ee5c664ebf314',
  },
  'uws_linux_x64_127.node': {
    original: '4b55b1f2cb7a7913febbb65a89496412b96af77e838552980092ba6b33723aac',
    patched: '65537716292c5b3d9ee617914eeed1e4496f092f001c33504e8a9a0f12780f59',
  },
  'uws_linux_x64_137.node': {
    original: '98128405dba2fb608448e921a979530f70c946a2cc9889c15f2fa70c2d00ab05',
    patched: '2630bb59236deeadf501d6abaf79c1a655b4a0b78579fba408eea84d1a30f6ca',
  },
  'uws_linux_x64_141.node': {
    original: '813d788b347c6fd76b779d8932311ec05a044e612b4b83af220f16e6ea789683',
    patched: 'eea6f5f0ce9e2405a81ddb885b647c40bb5ebc2a06e48852f8af74290f79c543',
  },
  'uws_linux_arm64_115.node': {
    original: '6bdbc8ff976b4371af1906175e9025804bacc38a414969f4f02314e6b99f206c',
    patched: 'eaa12cdd49c20a8fb1485dc055cc141ae85b64e2db245630085f93fec9e6601d',
  },
  'uws_linux_arm64_127.node': {
    original: '82b79bd18d1e3563de336156005bd01b7f39fc387b65173d69a29da4ee79f895',
    patched: '9f8b29f1112b1e27138abd232d8cfbef4a405d5633625f38d19dba7d759a4c0b',
  },
  'uws_linux_arm64_137.node': {
    original: '88618b30ddf6b2b62310db89f40a701616676352aac5e0f6184dd8ef876199ce',
    patched: '50691cb2ed74d2e1711806a07a3f3c6419db5fd63d776c171912f9c097fd270a',
  },
  'uws_linux_arm64_141.node': {
    original: '81d0186dd1549ed6a7f47e68e323573fc27d69d2920527654ce2dd993af2b0ec',
    patched: '28f00717039d9fa9bc8a09660835deb2c1a76b4ec6421695b59d7ad608b94e14',
  },
};

const TAG = 'patch-uws-glibc';
const C23_PREFIX = '__isoc23_';
const C23_SYMBOLS = new Set(['__isoc23_sscanf', '__isoc23_strtol', '__isoc23_strtoul']);
const NEW_VERSION = 'GLIBC_2.38';
// The oldest libc version for each architecture, which is where the classic
// sscanf/strtol/strtoul are defined.
const BASELINE = { 62 /* EM_X86_64 */: 'GLIBC_2.2.5', 183 /* EM_AARCH64 */: 'GLIBC_2.17' };

const SHT_DYNSYM = 11;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const SHN_UNDEF = 0;
const VERSYM_INDEX_MASK = 0x7fff; // bit 15 is the "hidden" flag

/** Expected failures: reported as one line without a stack trace. */
class PatchError extends Error {}

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

function cstr(buf, off) {
  const end = buf.indexOf(0, off);
  if (end < 0) throw new PatchError(`unterminated string at 0x${off.toString(16)}`);
  return buf.toString('latin1', off, end);
}

/**
 * Patch one ELF64 little-endian shared object in place in `buf`.
 * Returns the classic names the imports were redirected to.
 */
export function patchElf(buf, label = 'binary') {
  const fail = (msg) => { throw new PatchError(`${label}: ${msg}`); };
  if (buf.readUInt32BE(0) !== 0x7f454c46) fail('not an ELF file');
  if (buf[4] !== 2 || buf[5] !== 1) fail('not ELF64 little-endian');
  const baselineName = BASELINE[buf.readUInt16LE(18)];
  if (!baselineName) fail(`unsupported e_machine ${buf.readUInt16LE(18)}`);

  // Find the sections by reading the section headers.
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize;
    sections.push({
      type: buf.readUInt32LE(h + 4),
      offset: Number(buf.readBigUInt64LE(h + 0x18)),
      size: Number(buf.readBigUInt64LE(h + 0x20)),
      link: buf.readUInt32LE(h + 0x28),
      info: buf.readUInt32LE(h + 0x2c),
    });
  }
  const byType = (t) => sections.find((s) => s.type === t) ?? fail(`section type 0x${t.toString(16)} missing`);
  const dynsym = byType(SHT_DYNSYM);
  const versym = byType(SHT_GNU_VERSYM);
  const verneed = byType(SHT_GNU_VERNEED);
  const dynstr = sections[dynsym.link];
  const str = (off) => cstr(buf, dynstr.offset + off);

  // Walk .gnu.version_r (Elf64_Verneed -> Elf64_Vernaux lists) and record the
  // libc.so.6 entries for GLIBC_2.38 and for the baseline version.
  let newest, baseline;
  for (let vn = verneed.offset, n = 0; n < verneed.info; n++) {
    const file = str(buf.readUInt32LE(vn + 4));
    for (let vna = vn + buf.readUInt32LE(vn + 8), k = buf.readUInt16LE(vn + 2); k > 0; k--) {
      const aux = { at: vna, hash: buf.readUInt32LE(vna), index: buf.readUInt16LE(vna + 6), name: buf.readUInt32LE(vna + 8) };
      if (file === 'libc.so.6' && str(aux.name) === NEW_VERSION) newest = aux;
      if (file === 'libc.so.6' && str(aux.name) === baselineName) baseline = aux;
      vna += buf.readUInt32LE(vna + 12);
    }
    vn += buf.readUInt32LE(vn + 12);
  }
  if (!newest) fail(`no libc.so.6 ${NEW_VERSION} requirement (already patched, or not the expected build)`);
  if (!baseline) fail(`no libc.so.6 ${baselineName} requirement to redirect to`);

  // Redirect the __isoc23_* imports. Every other symbol must not use GLIBC_2.38,
  // because we are about to remove that requirement.
  const redirected = [];
  const others = [];
  for (let i = 0; i < dynsym.size / 24; i++) {
    const sym = dynsym.offset + i * 24;
    const verAt = versym.offset + i * 2;
    if ((buf.readUInt16LE(verAt) & VERSYM_INDEX_MASK) !== newest.index) continue;
    const stName = buf.readUInt32LE(sym);
    const name = str(stName);
    // Only undefined (imported) symbols are safe to rename. They are not in
    // .gnu.hash, so no hash table has to be updated.
    if (!C23_SYMBOLS.has(name) || buf.readUInt16LE(sym + 6) !== SHN_UNDEF) {
      others.push(name);
      continue;
    }
    // "__isoc23_strtol\0" already ends in "strtol\0", so point at that part of
    // the same string. No bytes are added to .dynstr.
    buf.writeUInt32LE(stName + C23_PREFIX.length, sym);
    buf.writeUInt16LE(baseline.index, verAt);
    redirected.push(name.slice(C23_PREFIX.length));
  }
  if (others.length) fail(`other symbols still need ${NEW_VERSION}: ${others.join(', ')}; refusing to patch`);
  if (!redirected.length) fail(`no __isoc23_* imports found`);

  // Deal with the now-unused GLIBC_2.38 requirement. ld.so checks every
  // vernaux entry when loading, so leaving it as it is would still fail on
  // 2.36. There are two options: mark it VER_FLG_WEAK, or rename it (vna_name
  // and vna_hash) to the baseline version. We rename it because:
  //  - the file then states its real requirements. `readelf -V` and any
  //    "minimum glibc" check show GLIBC_2.36 as the newest version, and
  //    `ldd -v` prints no "weak version not found" noise;
  //  - the entry keeps its own vna_other index, so a symbol that still used
  //    that index would bind to the baseline version. With a weak entry such
  //    a symbol would fail only later, at lazy-binding time. (We refuse that
  //    case above anyway.)
  // glibc accepts two entries for the same version; it checks each one.
  buf.writeUInt32LE(baseline.hash, newest.at);
  buf.writeUInt32LE(baseline.name, newest.at + 8);
  return redirected;
}

/** Returns { glibc } when the patch is needed, else { skip: reason }. */
function glibcStatus() {
  if (process.platform !== 'linux') return { skip: `not Linux (${process.platform})` };
  const glibc = process.report.getReport().header.glibcVersionRuntime;
  if (!glibc) return { skip: 'not glibc (e.g. musl)' };
  const [major, minor] = glibc.split('.').map(Number);
  if (major > 2 || (major === 2 && minor >= 38)) return { skip: `glibc ${glibc} >= 2.38` };
  return { glibc };
}

function writeAtomically(file, data) {
  const tmp = `${file}.patching-${process.pid}`;
  try {
    const fd = fs.openSync(tmp, 'w', fs.statSync(file).mode);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd); // the appliance may lose power; never rename a half-written file into place
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

function main() {
  const { skip, glibc } = glibcStatus();
  if (skip) {
    console.log(`${TAG}: ${skip}; uWebSockets.js needs no patch, nothing to do`);
    return;
  }
  const require = createRequire(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'package.json'));
  let dir;
  try {
    dir = path.dirname(require.resolve('uWebSockets.js'));
  } catch {
    throw new PatchError('cannot find the uWebSockets.js package (is it installed?)');
  }

  // Check every file's hash before writing anything, so an unknown binary
  // leaves all files as they were.
  const work = Object.entries(KNOWN).map(([name, want]) => {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) throw new PatchError(`${file}: missing (expected uWebSockets.js 20.57.0)`);
    const buf = fs.readFileSync(file);
    const have = sha256(buf);
    if (have !== want.original && have !== want.patched) {
      throw new PatchError(`${file}: unknown sha256 ${have}; refusing to patch an unrecognised binary ` +
        `(expected uWebSockets.js 20.57.0; update KNOWN in scripts/patch-uws-glibc.mjs after checking it)`);
    }
    return { file, name, buf, want, done: have === want.patched };
  });

  let patched = 0;
  const symbols = new Set();
  for (const job of work.filter((j) => !j.done)) {
    patchElf(job.buf, job.file).forEach((s) => symbols.add(s));
    const got = sha256(job.buf);
    if (got !== job.want.patched) {
      throw new PatchError(`${job.file}: patched result has sha256 ${got}, expected ${job.want.patched}; original left unchanged`);
    }
    writeAtomically(job.file, job.buf);
    patched++;
  }
  const already = work.length - patched;
  console.log(`${TAG}: glibc ${glibc} < 2.38: patched ${patched} uWebSockets.js linux binaries` +
    (patched ? ` (${[...symbols].join('/')} -> baseline GLIBC)` : '') + `, ${already} already patched, all sha256-verified`);
}

// Only run when executed directly (importing the file just exposes patchElf/KNOWN).
// Compare real paths: import.meta.url has symlinks resolved but argv[1] does not,
// and a silent skip behind a symlinked install dir would leave uWS unloadable.
const invokedPath = process.argv[1] ? fs.realpathSync(process.argv[1]) : '';
if (invokedPath === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    if (!(err instanceof PatchError) && !err?.code) throw err; // a bug: keep the stack trace
    console.error(`${TAG}: error: ${err.message}`);
    process.exit(1);
  }
}
