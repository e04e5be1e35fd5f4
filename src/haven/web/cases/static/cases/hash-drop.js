// Hashing on the case page: pictures and videos dropped (or chosen) here are hashed on this
// computer by the portal's worker, and each becomes a line in the "haven hash" box, exactly as
// the command would print it but without the file name. The files are never uploaded and no
// picture is shown: only the lines in the box are sent, when the officer adds them.
import { videoFrames } from "../portal/video.js";

let worker = null;
let nextId = 1;
const pending = new Map(); // id -> { resolve, reject }

function hashInWorker(url, file, digestsOnly) {
  if (!worker) {
    worker = new Worker(url, { type: "module" });
    worker.onmessage = ({ data }) => {
      const waiting = pending.get(data.id);
      if (!waiting || data.type === "progress") return;
      pending.delete(data.id);
      if (data.type === "result") waiting.resolve(data);
      else waiting.reject(new Error(data.error));
    };
  }
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, file, digestsOnly });
  });
}

async function lineFor(zone, file) {
  if (file.type.startsWith("video/")) {
    const digests = await hashInWorker(zone.dataset.worker, file, true);
    const frames = await videoFrames(file, { secondsPerFrame: 1 });
    return {
      kind: "video",
      md5: digests.md5,
      sha256: digests.sha256,
      video_frames: frames.map((f) => [f.frame, f.quality, f.pdq, f.seconds]),
    };
  }
  const h = await hashInWorker(zone.dataset.worker, file, false);
  return { pdq: h.pdq, quality: h.quality, pdq_dihedral: h.dihedral, extra: h.extra || [], md5: h.md5, sha256: h.sha256 };
}

// One file at a time, in the order given: the lines keep that order.
let chain = Promise.resolve();

function take(zone, files) {
  const form = zone.closest("form");
  const box = form && form.querySelector("textarea[name=lines]");
  const list = zone.querySelector("[data-hash-list]");
  if (!box || !list) return;
  for (const file of files) {
    const row = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = file.name;
    const state = document.createElement("span");
    state.className = "drop__state";
    state.textContent = zone.dataset.hashing;
    row.append(name, " ", state);
    list.append(row);
    chain = chain.then(async () => {
      try {
        const line = JSON.stringify(await lineFor(zone, file));
        box.value = box.value.trim() ? `${box.value.replace(/\s+$/, "")}\n${line}` : line;
        state.textContent = zone.dataset.done;
        row.dataset.state = "done";
      } catch (err) {
        state.textContent = file.type.startsWith("video/") ? zone.dataset.videoFailed : zone.dataset.failed;
        row.dataset.state = "failed";
      }
    });
  }
}

function zoneOf(target) {
  return target instanceof Element ? target.closest("[data-hash-drop]") : null;
}

function show() {
  for (const zone of document.querySelectorAll("[data-hash-drop][hidden]")) zone.hidden = false;
}

document.addEventListener("change", (event) => {
  const zone = zoneOf(event.target);
  if (zone && event.target.matches("[data-hash-input]")) {
    take(zone, [...event.target.files]);
    event.target.value = "";
  }
});
document.addEventListener("dragover", (event) => {
  const zone = zoneOf(event.target);
  if (!zone) return;
  event.preventDefault();
  zone.classList.add("drop--over");
});
document.addEventListener("dragleave", (event) => {
  const zone = zoneOf(event.target);
  if (zone) zone.classList.remove("drop--over");
});
document.addEventListener("drop", (event) => {
  const zone = zoneOf(event.target);
  if (!zone) return;
  event.preventDefault();
  zone.classList.remove("drop--over");
  take(zone, [...event.dataTransfer.files]);
});
// The content panel is replaced after each addition (htmx): show the new one's drop zone too.
document.addEventListener("htmx:afterSettle", show);
show();
