// Hashes one picture file off the main thread: PDQ (+ dihedral variants, quality), the PDQ of
// fixed crops (robust.js), MD5, SHA-256.
//
// Usage (module worker):
//   const worker = new Worker(new URL("./hash-worker.js", import.meta.url), { type: "module" });
//   worker.postMessage({ id: 1, file });        // a File or Blob (a bare Blob works too)
//   worker.postMessage({ id: 2, file, extra: false });  // skip the crop signals
//   worker.postMessage({ id: 3, file, digestsOnly: true });  // a video: MD5 and SHA-256 only
//                                               // (its frames are hashed by video.js)
//   worker.onmessage = ({ data }) => ...;
// Messages back, each with the request's id:
//   { type: "progress", stage: "reading" | "digesting" | "decoding" | "hashing", fraction }
//   { type: "result", pdq, quality, dihedral, extra, md5, sha256, width, height,
//     hashedWidth, hashedHeight, scaled, translucent }
// `extra` is [{ kind, pdq, quality }, ...]: the PDQ of each fixed crop ("centre80", ...,
// "right50", in haven.signals.CROPS order) whose quality reaches the floor of 50, as
// haven.signals.robust_signals gives them after its whole-picture entry. Absent with extra: false.
// `translucent` marks pictures with transparent pixels. They are read through WebGL, which gives
// the stored colours exactly; where WebGL is missing, a 2D canvas keeps pixels premultiplied by
// alpha, so colour under low alpha is approximate (or lost where alpha is 0)
// and the hash can differ from the server's, which ignores alpha.
//   { type: "error", error: "a sentence for the survivor" }
// The file never leaves this worker: nothing here makes a network request.

import { md5Hex } from "./md5.js";
import { MIN_DIMENSION, PdqHasher } from "./pdq.js";
import { RobustHasher } from "./robust.js";

const MAX_FILE_BYTES = 256 * 1024 * 1024;
// A video is read whole to digest it, as a picture is: 2 GB is about an hour of phone video.
const MAX_VIDEO_BYTES = 2 * 1024 * 1024 * 1024;
const STRIP_PIXELS = 1 << 22; // pixels per getImageData call: 16 MB of RGBA at a time
const MIN_SHORT_SIDE = 512; // when the canvas cannot be full size, never hash below this

class HashingError extends Error {}

const KINDS = [
  ["JPEG", [0xff, 0xd8, 0xff]],
  ["PNG", [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ["GIF", [0x47, 0x49, 0x46, 0x38]],
  ["BMP", [0x42, 0x4d]],
];

/** What the first bytes say the file is, or null when it is no picture format we know. */
function sniff(bytes) {
  for (const [name, magic] of KINDS) {
    if (magic.every((b, i) => bytes[i] === b)) return name;
  }
  const ascii = (from, to) => String.fromCharCode(...bytes.subarray(from, to));
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "WebP";
  if (ascii(4, 8) === "ftyp") {
    const brand = ascii(8, 12);
    if (brand === "avif" || brand === "avis") return "AVIF";
    if (/^hei|^mif1|^msf1/.test(brand)) return "HEIF";
  }
  return null;
}

/**
 * Whether a JPEG's marker structure runs to its end-of-image marker. Browsers paint a cut-off
 * JPEG with grey below the cut rather than failing, and that would hash as a different
 * picture; a partly downloaded photo is the usual case.
 */
function jpegIsComplete(bytes) {
  const n = bytes.length;
  let p = 2;
  while (p < n) {
    if (bytes[p] !== 0xff) {
      p++;
      continue;
    }
    while (p < n && bytes[p] === 0xff) p++;
    if (p >= n) return false;
    const marker = bytes[p++];
    if (marker === 0xd9) return true;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (p + 2 > n) return false;
    const length = (bytes[p] << 8) | bytes[p + 1];
    if (p + length > n) return false;
    p += length;
    if (marker === 0xda) {
      // Entropy-coded data runs to the next marker that is not a stuffed 0xff00 or a restart.
      for (;;) {
        if (p + 1 >= n) return false;
        if (bytes[p] === 0xff) {
          const next = bytes[p + 1];
          if (next !== 0x00 && next !== 0xff && !(next >= 0xd0 && next <= 0xd7)) break;
        }
        p++;
      }
    }
  }
  return false;
}

/** SHA-256 hex of the bytes (Web Crypto: only on HTTPS pages and localhost). */
async function sha256Hex(buffer) {
  if (!self.crypto || !self.crypto.subtle) {
    throw new HashingError("This page must be opened over HTTPS to compute the file's SHA-256.");
  }
  const digest = new Uint8Array(await self.crypto.subtle.digest("SHA-256", buffer));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A 2D context holding the picture, full size if the browser allows it. */
function rasterise(bitmap) {
  const { width, height } = bitmap;
  let scale = 1;
  for (;;) {
    const w = Math.max(1, Math.round(width * scale));
    const h = Math.max(1, Math.round(height * scale));
    try {
      const canvas = new OffscreenCanvas(w, h);
      const ctx = canvas.getContext("2d", { willReadFrequently: true });
      if (ctx) {
        ctx.imageSmoothingQuality = "high";
        ctx.drawImage(bitmap, 0, 0, w, h);
        ctx.getImageData(0, 0, 1, 1); // fails here when the backing store could not be made
        return { ctx, w, h, scaled: scale < 1 };
      }
    } catch {
      // too big for this browser: try a smaller canvas below
    }
    // Halve the area, keeping the short side at or above MIN_SHORT_SIDE.
    const next = scale * Math.SQRT1_2;
    if (Math.min(width, height) * next < MIN_SHORT_SIDE) {
      throw new HashingError(
        `The picture (${width} x ${height} pixels) is too large for this browser to process.`,
      );
    }
    scale = next;
  }
}

/**
 * The picture's exact, unpremultiplied pixels through WebGL, or null where WebGL cannot hold it.
 *
 * A 2D canvas stores colours premultiplied by alpha, so under low alpha they come back
 * approximate (or black where alpha is 0). The server's decoder keeps the stored colours and
 * drops alpha; a texture uploaded with premultiplication off and read back gives exactly those.
 */
function webglReader(bitmap) {
  const { width: w, height: h } = bitmap;
  let gl;
  try {
    gl = new OffscreenCanvas(1, 1).getContext("webgl2", { premultipliedAlpha: false, antialias: false });
  } catch {
    return null;
  }
  if (!gl) return null;
  const max = gl.getParameter(gl.MAX_TEXTURE_SIZE);
  if (w > max || h > max) return null;
  const texture = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, texture);
  gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
  gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
  gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
  gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
  const framebuffer = gl.createFramebuffer();
  gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer);
  gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, texture, 0);
  if (gl.getError() !== gl.NO_ERROR || gl.checkFramebufferStatus(gl.FRAMEBUFFER) !== gl.FRAMEBUFFER_COMPLETE) {
    return null;
  }
  gl.pixelStorei(gl.PACK_ALIGNMENT, 1);
  return {
    w,
    h,
    read(y, rows) {
      const out = new Uint8Array(w * rows * 4);
      gl.readPixels(0, y, w, rows, gl.RGBA, gl.UNSIGNED_BYTE, out);
      if (gl.getError() !== gl.NO_ERROR) throw new HashingError("The browser could not read the picture.");
      return out;
    },
    close() {
      gl.deleteFramebuffer(framebuffer);
      gl.deleteTexture(texture);
    },
  };
}

function hasTransparency(rgba) {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) return true;
  return false;
}

function checkFile(file, maxBytes) {
  if (!(file instanceof Blob)) throw new HashingError("No file was given.");
  if (file.size === 0) throw new HashingError("The file is empty.");
  if (file.size > maxBytes) {
    throw new HashingError(`The file is larger than ${maxBytes / 1024 / 1024} MB.`);
  }
}

/** MD5 and SHA-256 of a video's bytes, for exact copies. */
async function digestFile(file, progress) {
  checkFile(file, MAX_VIDEO_BYTES);
  progress("reading", 0);
  const buffer = await file.arrayBuffer();
  progress("digesting", 0);
  return { sha256: await sha256Hex(buffer), md5: md5Hex(buffer) };
}

async function hashFile(file, progress, withExtra) {
  checkFile(file, MAX_FILE_BYTES);
  progress("reading", 0);
  const buffer = await file.arrayBuffer();
  const bytes = new Uint8Array(buffer);
  const kind = sniff(bytes);
  if (kind === null) {
    throw new HashingError(
      "This file is not a picture the browser can read (JPEG, PNG, WebP, GIF, BMP or AVIF).",
    );
  }
  if (kind === "JPEG" && !jpegIsComplete(bytes)) {
    throw new HashingError("This JPEG file is incomplete or damaged (it ends before the picture does).");
  }

  progress("digesting", 0);
  const sha256 = await sha256Hex(buffer);
  const md5 = md5Hex(buffer);

  progress("decoding", 0);
  let bitmap;
  try {
    // EXIF orientation applied like Pillow's exif_transpose; colour profiles are not applied,
    // as the server's decoder (Pillow) does not apply them either.
    bitmap = await createImageBitmap(file, {
      imageOrientation: "from-image",
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    });
  } catch {
    throw new HashingError(`This ${kind} file is damaged or in a form the browser cannot decode.`);
  }
  try {
    const { width, height } = bitmap;
    if (width < MIN_DIMENSION || height < MIN_DIMENSION) {
      throw new HashingError(
        `The picture is too small (${width} x ${height} pixels); it must be at least ` +
          `${MIN_DIMENSION} x ${MIN_DIMENSION} pixels.`,
      );
    }
    const exact = webglReader(bitmap);
    let source;
    if (exact) {
      source = { w: exact.w, h: exact.h, scaled: false, read: (y, rows) => exact.read(y, rows) };
    } else {
      const { ctx, w, h, scaled } = rasterise(bitmap);
      source = { w, h, scaled, read: (y, rows) => ctx.getImageData(0, y, w, rows).data };
    }
    bitmap.close();
    const { w, h, scaled } = source;
    const hasher = withExtra ? new RobustHasher(w, h) : new PdqHasher(w, h);
    const strip = Math.max(1, Math.floor(STRIP_PIXELS / w));
    let translucent = false;
    try {
      for (let y = 0; y < h; y += strip) {
        progress("hashing", y / h);
        const rows = Math.min(strip, h - y);
        const pixels = source.read(y, rows);
        if (!translucent) translucent = hasTransparency(pixels);
        hasher.addRows(pixels);
      }
    } finally {
      if (exact) exact.close();
    }
    const { hash, quality, dihedral, crops } = hasher.finish();
    const extra = crops && crops.map(({ kind, hash: pdq, quality: q }) => ({ kind, pdq, quality: q }));
    return {
      pdq: hash,
      quality,
      dihedral,
      ...(extra ? { extra } : {}),
      md5,
      sha256,
      width,
      height,
      hashedWidth: w,
      hashedHeight: h,
      scaled,
      translucent,
    };
  } finally {
    bitmap.close();
  }
}

self.onmessage = async (event) => {
  const message = event.data;
  const file = message instanceof Blob ? message : message && message.file;
  const id = message instanceof Blob ? undefined : message && message.id;
  const digestsOnly = !(message instanceof Blob) && Boolean(message && message.digestsOnly);
  const withExtra = message instanceof Blob || !message || message.extra !== false;
  const progress = (stage, fraction) => self.postMessage({ type: "progress", id, stage, fraction });
  try {
    const result = digestsOnly ? await digestFile(file, progress) : await hashFile(file, progress, withExtra);
    self.postMessage({ type: "result", id, ...result });
  } catch (err) {
    const error =
      err instanceof HashingError
        ? err.message
        : `The picture could not be hashed (${err && err.message ? err.message : err}).`;
    self.postMessage({ type: "error", id, error });
  }
};
