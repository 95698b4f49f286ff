// brainage QC viewer: a list of subjects worst first, NiiVue views, keyboard ratings saved at once.
"use strict";
let subjects = [], shown = [], current = -1, legend = {}, showMask = true, space = "native";
const $ = (id) => document.getElementById(id);
const nv = new niivue.Niivue({backColor: [0, 0, 0, 1], show3Dcrosshair: true, isColorbar: false});
nv.attachTo("gl");
nv.setSliceType(nv.sliceTypeMultiplanar);
nv.opts.multiplanarShowRender = niivue.SHOW_RENDER.ALWAYS;
window.brainageViewer = {nv, loaded: 0};

function badge(v) { return `<span class="v ${v}">${v}</span>`; }

async function load() {
  legend = await (await fetch("/api/legend")).json();
  subjects = await (await fetch("/api/subjects")).json();
  const sites = [...new Set(subjects.map((s) => s.site))].sort();
  for (const s of sites) $("fsite").insertAdjacentHTML("beforeend", `<option>${s}</option>`);
  $("rater").value = localStorage.getItem("brainage-rater") || "";
  filter();
}

function filter() {
  const v = $("fverdict").value, site = $("fsite").value, reason = $("freason").value.toLowerCase();
  const keep = current >= 0 ? shown[current].subject_id : null;
  shown = subjects.filter((s) => (!v || s.final_verdict === v) && (!site || s.site === site)
    && (!reason || (s.reasons || "").toLowerCase().includes(reason)));
  $("count").textContent = `${shown.length} of ${subjects.length} subjects, worst first`;
  $("list").innerHTML = shown.map((s, i) => `<div class="item" data-i="${i}">${badge(s.final_verdict)} ${s.subject_id}`
    + ` ${s.rating ? "&#9733; " + s.rating.verdict : ""}</div>`).join("");
  const again = shown.findIndex((s) => s.subject_id === keep);
  select(again >= 0 ? again : 0);
}

async function select(i) {
  if (!shown.length) return;
  current = Math.max(0, Math.min(shown.length - 1, i));
  document.querySelectorAll(".item").forEach((e) => e.classList.toggle("sel", +e.dataset.i === current));
  const item = document.querySelector(`.item[data-i="${current}"]`);
  if (item) item.scrollIntoView({block: "nearest"});
  const s = shown[current];
  $("title").textContent = `${s.subject_id} (${s.site})`;
  $("verdict").innerHTML = `automatic: ${badge(s.verdict)} final: ${badge(s.final_verdict)}`;
  $("reasons").textContent = s.reasons || "no reasons: every check passed";
  $("note").value = s.rating ? s.rating.note : "";
  $("rating").innerHTML = s.rating ? `rated ${badge(s.rating.verdict)} by ${s.rating.rater} at ${s.rating.rated_at}` : "not rated yet";
  $("metrics").innerHTML = Object.entries(s.metrics).map(([k, v]) => {
    const m = legend[k] || {label: k, meaning: "", bad: ""};
    return `<tr title="${m.meaning}"><td>${m.label}</td><td>${v === null ? "" : Number(v).toLocaleString()}</td>`
      + `<td>${m.bad ? "bad if " + m.bad : ""}</td></tr>`;
  }).join("");
  await showImages();
}

async function showImages() {
  const s = shown[current];
  const [t1, mask] = space === "native" ? ["t1", "mask"] : ["t1_mni", "mask_mni"];
  const volumes = [];
  if (s.images.includes(t1)) volumes.push({url: `/files/${encodeURIComponent(s.subject_id)}/${t1}`, name: `${t1}.nii.gz`});
  if (showMask && s.images.includes(mask)) volumes.push({url: `/files/${encodeURIComponent(s.subject_id)}/${mask}`,
    name: `${mask}.nii.gz`, colormap: "red", opacity: 0.35});
  $("status").textContent = `${space} space` + (volumes.length ? "" : ": no image");
  if (volumes.length) { await nv.loadVolumes(volumes); window.brainageViewer.loaded += 1; }
}

async function rate(verdict) {
  const rater = $("rater").value.trim();
  if (!rater) { $("status").textContent = "type your name (rater) first"; $("rater").focus(); return; }
  localStorage.setItem("brainage-rater", rater);
  const s = shown[current];
  const response = await fetch("/api/rate", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({subject_id: s.subject_id, rater, verdict, note: $("note").value})});
  const body = await response.json();
  if (!response.ok) { $("status").textContent = `not saved: ${body.error}`; return; }
  s.rating = body;
  const item = document.querySelector(`.item[data-i="${current}"]`);
  if (item) item.innerHTML = `${badge(s.final_verdict)} ${s.subject_id} &#9733; ${verdict}`;
  $("status").textContent = `saved: ${verdict}`;
  await select(current + 1);
}

document.addEventListener("keydown", (e) => {
  if (e.target.tagName === "TEXTAREA" || e.target.tagName === "INPUT") {
    if (e.key === "Enter" || e.key === "Escape") { e.preventDefault(); e.target.blur(); }
    return;
  }
  const actions = {p: () => rate("pass"), f: () => rate("fail"), u: () => rate("unsure"), n: () => $("note").focus(),
    j: () => select(current + 1), ArrowDown: () => select(current + 1), k: () => select(current - 1),
    ArrowUp: () => select(current - 1), m: () => { showMask = !showMask; return showImages(); },
    s: () => { space = space === "native" ? "mni" : "native"; return showImages(); }};
  if (actions[e.key]) { e.preventDefault(); inTurn(actions[e.key]); }
});

// Keys act one after another, each once the previous one has finished (its rating saved, the next
// scan's image shown): a key pressed while a slow save or image load is under way must rate the
// scan whose image the rater will then be looking at, never the one before it.
let pending = Promise.resolve();
function inTurn(action) {
  pending = pending.then(action).catch((err) => { $("status").textContent = `error: ${err}`; });
  return pending;
}
$("list").addEventListener("click", (e) => { const d = e.target.closest(".item"); if (d) inTurn(() => select(+d.dataset.i)); });
for (const id of ["fverdict", "fsite"]) $(id).addEventListener("change", filter);
$("freason").addEventListener("input", filter);
load();
