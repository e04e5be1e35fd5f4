// The submission page (and the page that adds pictures to her case): each chosen picture is hashed in a Web Worker on this device and shown as
// a local thumbnail (an object URL, never uploaded). A video's bytes are digested in the worker
// and one frame a second is hashed here (video.js). Only the hashes and her choices are posted.
import { videoFrames } from "./video.js";

const text = document.getElementById("portal-text").dataset;
const maxItems = Number(text.max);
const form = document.getElementById("submit-form");
const input = document.getElementById("files");
const list = document.getElementById("file-list");
const errorBox = document.getElementById("form-error");
const sendButton = document.getElementById("send");
const adding = text.mode === "add";

const worker = new Worker(text.worker, { type: "module" });
const entries = new Map(); // id -> {file, url, row, status, hashes, isVideo}
let nextId = 1;
const queue = [];
let busy = false;

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

function pump() {
  if (busy || !queue.length) return;
  const id = queue.shift();
  const entry = entries.get(id);
  if (!entry) return pump();
  busy = true;
  worker.postMessage({ id, file: entry.file, digestsOnly: entry.isVideo });
}

function failed(entry, message) {
  entry.status = "failed";
  entry.state.textContent = message;
  entry.row.classList.add("file--failed");
}

/** After the worker's digests: one PDQ hash a second of the video, on this page. */
async function hashVideo(entry, digests) {
  try {
    const frames = await videoFrames(entry.file, {
      secondsPerFrame: 1,
      onProgress: (fraction) => {
        entry.progress.value = fraction;
      },
    });
    entry.status = "done";
    entry.hashes = {
      kind: "video",
      video_frames: frames.map((f) => [f.frame, f.quality, f.pdq, f.seconds]),
      md5: digests.md5,
      sha256: digests.sha256,
    };
    entry.progress.value = 1;
    entry.state.textContent = text.done;
  } catch (err) {
    failed(entry, text.videoFailed);
  }
}

worker.onmessage = async ({ data }) => {
  const entry = entries.get(data.id);
  if (data.type === "progress") {
    // A video's digests are the first part of its work; its frames are the rest.
    if (entry && !entry.isVideo) entry.progress.value = data.fraction || 0;
    return;
  }
  if (entry && entry.isVideo && data.type === "result") {
    await hashVideo(entry, data);
    busy = false;
    return pump();
  }
  busy = false;
  if (entry) {
    if (data.type === "result") {
      entry.status = "done";
      entry.hashes = {
        pdq: data.pdq,
        quality: data.quality,
        dihedral: data.dihedral,
        // The PDQ hashes of fixed crops, so that a cropped or re-framed copy can still be found.
        extra: data.extra || [],
        md5: data.md5,
        sha256: data.sha256,
      };
      entry.progress.value = 1;
      entry.state.textContent = text.done;
    } else {
      failed(entry, entry.isVideo ? text.videoFailed : text.failed);
    }
  }
  pump();
};

function removeEntry(id) {
  const entry = entries.get(id);
  if (!entry) return;
  URL.revokeObjectURL(entry.url);
  entry.row.remove();
  entries.delete(id);
}

function addChosen() {
  showError("");
  for (const file of input.files) {
    if (entries.size >= maxItems) {
      showError(text.tooMany);
      break;
    }
    const id = nextId++;
    const isVideo = file.type.startsWith("video/");
    const url = URL.createObjectURL(file);
    const row = document.createElement("li");
    row.className = "file";
    let thumb;
    if (isVideo) {
      // No preview of a video: a marker instead, so that nothing of it plays on screen.
      thumb = document.createElement("span");
      thumb.className = "thumb thumb--video";
      thumb.textContent = text.video;
    } else {
      thumb = document.createElement("img");
      thumb.src = url;
      thumb.alt = "";
      thumb.className = "thumb";
    }
    const info = document.createElement("div");
    info.className = "file__info";
    const state = document.createElement("span");
    state.className = "file__state";
    state.textContent = text.hashing;
    const progress = document.createElement("progress");
    progress.max = 1;
    progress.value = 0;
    progress.setAttribute("aria-label", text.hashing);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "button button--small";
    remove.textContent = text.remove;
    remove.addEventListener("click", () => removeEntry(id));
    info.append(state, progress);
    row.append(thumb, info, remove);
    list.append(row);
    entries.set(id, { file, url, row, state, progress, status: "hashing", hashes: null, isVideo });
    queue.push(id);
  }
  // Forget the selection itself: the files stay only as long as their thumbnails do.
  input.value = "";
  pump();
}

input.addEventListener("change", addChosen);
// Pictures chosen before this script ran (a slow connection) are not lost.
if (input.files && input.files.length) addChosen();

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  const all = [...entries.values()];
  if (all.some((e) => e.status === "hashing")) return showError(text.wait);
  const items = all.filter((e) => e.status === "done").map((e) => e.hashes);
  if (!items.length) return showError(text.none);
  let body;
  if (adding) {
    // More pictures for her existing case: its number and PIN, as she signed in with them.
    body = { case_number: text.caseNumber, pin: text.pin, items };
  } else {
    const consents = {};
    for (const box of form.querySelectorAll("input[name=consent]")) consents[box.value] = box.checked;
    body = {
      items,
      consents,
      contact: document.getElementById("contact").value,
      minor: document.getElementById("minor").checked,
    };
    const organisation = document.getElementById("organisation");
    if (organisation) body.organisation = Number(organisation.value);
  }
  sendButton.disabled = true;
  sendButton.textContent = text.sending;
  let response;
  let answer = {};
  try {
    response = await fetch(text.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
    answer = await response.json();
  } catch (err) {
    response = null;
  }
  if (!response || !response.ok) {
    sendButton.disabled = false;
    sendButton.textContent = form.dataset.sendLabel || sendButton.textContent;
    return showError((answer && answer.error) || text.network);
  }
  for (const id of [...entries.keys()]) removeEntry(id);
  form.hidden = true;
  const result = document.getElementById("result");
  if (adding) {
    result.querySelector("[data-added-line]").textContent = document
      .getElementById("added-text")
      .dataset.added.replace("%(added)s", String(answer.added))
      .replace("%(already)s", String(answer.already_there));
  } else {
    document.getElementById("case-number").textContent = answer.case_number;
    document.getElementById("pin").textContent = answer.pin;
  }
  result.hidden = false;
  result.focus();
});
form.dataset.sendLabel = sendButton.textContent;
