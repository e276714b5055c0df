/**
 * The live page: asks for the token (or reads it from the URL fragment, `#token=...`),
 * opens the job API, sends `watch`, and from then on only listens: the coordinator pushes a
 * pod frame at 2 Hz and every job's events. Nothing polls.
 */
import { ApiError, JobApi } from './api.js';
import { SeriesChart } from './charts.js';
import { utilizationGradient, utilizationPosition } from './colors.js';
import { JobDetailView } from './detail.js';
import { bytes, percent, seconds, si } from './format.js';
import { JobBoard } from './jobs.js';
import { TorusView } from './torus.js';

const TOKEN_KEY = 'tpusim-token';
const MAX_RECONNECTS = 100;

const $ = (sel) => document.querySelector(sel);

const state = {
  api: undefined,
  torus: undefined,
  topology: undefined,
  charts: undefined,
  reconnects: 0,
  workloads: [],
};

const board = new JobBoard({ table: $('#job-table'), panels: $('#job-panels'), onSelect: (id) => detail.open(id) });
const detail = new JobDetailView($('#job-detail'), { api: undefined, board });

function setConnection(text, kind) {
  const c = $('#conn');
  c.textContent = text;
  c.className = `conn ${kind}`;
}

function showTokenForm(message) {
  $('#main').hidden = true;
  $('#token-view').hidden = false;
  $('#token-error').textContent = message ?? '';
  $('#token-input').focus();
}

/** The token from `#token=...`, removed from the address bar so it does not linger in history. */
function tokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  if (token) history.replaceState(null, '', `${location.pathname}${location.search}`);
  return token;
}

async function connect(token) {
  setConnection('connecting…', 'pending');
  let api;
  try {
    api = await JobApi.connect(token);
  } catch {
    // The browser hides the upgrade's status: ask /healthz to tell a refused token from a coordinator that is down.
    const reachable = await fetch('/healthz', { cache: 'no-store' }).then((r) => r.ok, () => false);
    if (reachable) {
      sessionStorage.removeItem(TOKEN_KEY);
      setConnection('not connected', 'bad');
      showTokenForm('The coordinator refused this token (401). Paste the token `tpusim up` printed, or read it from <data-dir>/token.');
    } else {
      scheduleReconnect(token);
    }
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  state.reconnects = 0;
  await onConnected(api, token);
}

function scheduleReconnect(token) {
  if (state.reconnects >= MAX_RECONNECTS) {
    setConnection('offline: reload the page to retry', 'bad');
    return;
  }
  const delay = Math.min(15_000, 1000 * 2 ** Math.min(4, state.reconnects));
  state.reconnects++;
  setConnection(`offline; retrying in ${Math.round(delay / 1000)} s`, 'bad');
  setTimeout(() => connect(token), delay);
}

async function onConnected(api, token) {
  state.api = api;
  detail.setApi(api);
  $('#token-view').hidden = true;
  $('#main').hidden = false;
  api.onMessage(dispatch);
  api.onClose(() => {
    if (state.api !== api) return;
    state.api = undefined;
    scheduleReconnect(token);
  });
  const { pod } = await api.request('watch');
  setupPod(pod, api.hello);
  const [{ jobs }, { workloads }] = await Promise.all([api.request('list', { limit: 200 }), api.request('workloads')]);
  for (const j of jobs) board.upsert(j);
  fillWorkloads(workloads);
  setConnection('connected', 'good');
  if (detail.jobId) detail.open(detail.jobId);
}

function setupPod(pod, hello) {
  board.setPod(pod);
  $('#pod-name').textContent = `${pod.topology} · ${pod.chip} · ${pod.numCores} cores · ${bytes(pod.hbmBytesPerCore)} HBM per core · tpusim ${hello?.version ?? ''}`;
  document.title = `tpusim · ${pod.topology}`;
  if (state.topology === pod.topology && state.torus) return;
  state.topology = pod.topology;
  state.torus = new TorusView($('#torus'), pod);
  const legend = $('#torus-legend');
  legend.replaceChildren();
  const scale = document.createElement('div');
  scale.className = 'legend-scale';
  scale.style.background = utilizationGradient();
  for (const u of [0, 0.01, 0.1, 0.25, 0.5, 1]) {
    const tick = document.createElement('span');
    tick.className = 'legend-tick';
    tick.style.left = `${(utilizationPosition(u) * 100).toFixed(1)}%`;
    tick.textContent = percent(u).replace('.0%', '%');
    scale.appendChild(tick);
  }
  const caption = document.createElement('span');
  caption.className = 'legend-caption';
  caption.textContent = 'cell colour: MXU utilization (latest window of simulated time) · bar: HBM in use';
  legend.append(scale, caption);
  state.charts?.util.destroy();
  state.charts?.speed.destroy();
  state.charts = {
    util: new SeriesChart($('#chart-util'), {
      title: 'Pod utilization',
      series: [{ label: 'MXU utilization (mean)' }, { label: 'HBM in use' }],
      yMax: 1,
      yFormat: percent,
    }),
    speed: new SeriesChart($('#chart-speed'), {
      title: 'Emulation speed (useful FLOP/s emulated per wall-clock second)',
      series: [{ label: 'emulation speed', format: (v) => si(v, 'FLOP/s') }],
      yFormat: (v) => si(v),
    }),
  };
}

function dispatch(m) {
  switch (m.type) {
    case 'pod':
      onFrame(m);
      return;
    case 'state':
    case 'progress':
    case 'result':
    case 'error':
      if (!m.jobId) return;
      if (board.event(m) && state.api) {
        state.api
          .request('status', { jobId: m.jobId })
          .then((r) => board.upsert(r.job))
          .catch(() => undefined);
      }
      detail.message(m);
      return;
    case 'log':
      detail.message(m);
      return;
  }
}

function onFrame(f) {
  state.torus?.update(f);
  $('#torus').classList.toggle('idle', !f.running);
  board.frame(f);
  const t = f.at / 1000;
  state.charts?.util.push(t, [f.mxuUtilization, f.hbmCapacityBytes > 0 ? f.hbmUsedBytes / f.hbmCapacityBytes : 0]);
  state.charts?.speed.push(t, [f.emulationFlopsPerSecond]);
  $('#stat-running').textContent = f.running ?? 'idle';
  $('#stat-clock').textContent = seconds(f.simulatedSeconds);
  $('#stat-mxu').textContent = percent(f.mxuUtilization);
  $('#stat-hbm').textContent = `${bytes(f.hbmUsedBytes)} of ${bytes(f.hbmCapacityBytes)}`;
  $('#stat-speed').textContent = si(f.emulationFlopsPerSecond, 'FLOP/s');
  $('#stat-up').textContent = `${f.cores.up.reduce((s, x) => s + x, 0)} / ${f.cores.up.length}`;
}

function fillWorkloads(workloads) {
  state.workloads = workloads;
  const select = $('#submit-workload');
  const previous = select.value;
  select.replaceChildren(
    ...workloads.map((w) => {
      const o = document.createElement('option');
      o.value = w.name;
      o.textContent = w.name;
      o.title = w.description;
      return o;
    }),
  );
  if (workloads.some((w) => w.name === previous)) select.value = previous;
  else showDefaults();
}

function showDefaults() {
  const w = state.workloads.find((x) => x.name === $('#submit-workload').value);
  $('#submit-config').value = JSON.stringify(w?.defaults ?? {}, null, 2);
  $('#submit-description').textContent = w?.description ?? '';
}

/** "data=4,model=2" -> { data: 4, model: 2 }; empty -> undefined. */
function parseMesh(text) {
  const t = text.trim();
  if (!t) return undefined;
  const mesh = {};
  for (const part of t.split(',')) {
    const m = /^\s*([A-Za-z_][\w-]*)\s*=\s*(\d+)\s*$/.exec(part);
    if (!m) throw new Error(`mesh: "${part.trim()}" is not axis=size`);
    mesh[m[1]] = Number(m[2]);
  }
  return mesh;
}

async function submit(ev) {
  ev.preventDefault();
  const status = $('#submit-status');
  status.className = '';
  if (!state.api) {
    status.textContent = 'not connected';
    return;
  }
  let config;
  let mesh;
  try {
    config = JSON.parse($('#submit-config').value || '{}');
    if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new Error('config must be a JSON object');
    mesh = parseMesh($('#submit-mesh').value);
  } catch (e) {
    status.textContent = e.message;
    status.className = 'error-text';
    return;
  }
  const name = $('#submit-name').value.trim();
  try {
    const r = await state.api.request('submit', { workload: $('#submit-workload').value, config, ...(mesh ? { mesh } : {}), ...(name ? { name } : {}), subscribe: false });
    status.textContent = `accepted: ${r.jobId}`;
    const { job } = await state.api.request('status', { jobId: r.jobId });
    board.upsert(job);
  } catch (e) {
    status.textContent = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e.message ?? e);
    status.className = 'error-text';
  }
}

$('#submit-form').addEventListener('submit', submit);
$('#submit-workload').addEventListener('change', showDefaults);
$('#token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = $('#token-input').value.trim();
  if (token) connect(token);
});

const initial = tokenFromFragment() ?? sessionStorage.getItem(TOKEN_KEY);
if (initial) connect(initial);
else {
  setConnection('not connected', 'bad');
  showTokenForm();
}
