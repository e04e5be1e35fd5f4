// Hashes a video on this device: one frame a second is drawn from an HTMLVideoElement onto a
// canvas and hashed with PDQ. The video plays nowhere and nothing here makes a network request:
// the element reads the file through an object URL, and only the frame hashes leave this module.
//
//   const frames = await videoFrames(file, { secondsPerFrame: 1, onProgress: (f) => ... });
//   // [{ frame: 0, quality: 100, pdq: "e271…", seconds: 0 }, { frame: 1, … seconds: 1 }, …]
//
// `frame` numbers the samples (0, 1, 2 …) and `seconds` is the time sampled; the server checks
// both increase. Throws VideoError with a sentence for the survivor when the browser cannot
// play the file, or it is longer than MAX_SECONDS.

import { MIN_DIMENSION, pdqFromRgba } from "./pdq.js";

export const MAX_SECONDS = 60 * 60; // one hour: 3,600 frame hashes at one a second
const MAX_PIXELS = 1 << 22; // frames larger than 4 megapixels are drawn scaled down
const EVENT_TIMEOUT_MS = 30_000;
// Seek a hair past each whole second: the frame shown is then the one that starts at that second
// (when one does), as the server's hasher picks, rather than the one before by rounding.
const SEEK_NUDGE = 0.001;

export class VideoError extends Error {}

/** Resolves on the first of `ok` events, rejects on `error` or after a timeout. */
function once(video, ok, message) {
  return new Promise((resolve, reject) => {
    const done = (fn, value) => {
      clearTimeout(timer);
      for (const name of ok) video.removeEventListener(name, onOk);
      video.removeEventListener("error", onError);
      fn(value);
    };
    const onOk = (event) => done(resolve, event);
    const onError = () => done(reject, new VideoError(message));
    const timer = setTimeout(() => done(reject, new VideoError(message)), EVENT_TIMEOUT_MS);
    for (const name of ok) video.addEventListener(name, onOk);
    video.addEventListener("error", onError);
  });
}

async function seek(video, seconds) {
  const arrived = once(video, ["seeked"], "The video stopped while it was being read.");
  video.currentTime = seconds;
  await arrived;
}

/** The duration in seconds; files without one in their header (some WebM) are measured. */
async function durationOf(video) {
  if (Number.isFinite(video.duration)) return video.duration;
  // Seeking far past the end makes the browser find the end and report the duration.
  await seek(video, 1e9);
  if (!Number.isFinite(video.duration)) {
    throw new VideoError("The length of this video could not be found.");
  }
  return video.duration;
}

export async function videoFrames(file, { secondsPerFrame = 1, onProgress } = {}) {
  if (!(file instanceof Blob) || file.size === 0) throw new VideoError("The file is empty.");
  if (!(secondsPerFrame > 0)) throw new Error("secondsPerFrame must be more than 0");
  const url = URL.createObjectURL(file);
  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  video.preload = "auto";
  try {
    const cannotPlay = "This video is in a form this browser cannot play, so it cannot be hashed here.";
    const loaded = once(video, ["loadeddata"], cannotPlay);
    video.src = url;
    await loaded;
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height) throw new VideoError("This file has no picture to hash (sound only?).");
    if (width < MIN_DIMENSION || height < MIN_DIMENSION) {
      throw new VideoError(`The video is too small (${width} x ${height} pixels) to hash.`);
    }
    const duration = await durationOf(video);
    if (duration > MAX_SECONDS) {
      throw new VideoError(
        `The video is longer than ${MAX_SECONDS / 60} minutes. Please cut it into shorter parts.`,
      );
    }
    const scale = Math.min(1, Math.sqrt(MAX_PIXELS / (width * height)));
    const w = Math.max(MIN_DIMENSION, Math.round(width * scale));
    const h = Math.max(MIN_DIMENSION, Math.round(height * scale));
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const frames = [];
    const count = Math.max(1, Math.ceil(duration / secondsPerFrame - 1e-9));
    for (let index = 0; index < count; index++) {
      const seconds = Math.round(index * secondsPerFrame * 1000) / 1000;
      await seek(video, Math.min(seconds + SEEK_NUDGE, duration));
      ctx.drawImage(video, 0, 0, w, h);
      const { hash, quality } = pdqFromRgba(ctx.getImageData(0, 0, w, h).data, w, h);
      frames.push({ frame: index, quality, pdq: hash, seconds });
      if (onProgress) onProgress((index + 1) / count);
    }
    return frames;
  } finally {
    video.removeAttribute("src");
    video.load();
    URL.revokeObjectURL(url);
  }
}
