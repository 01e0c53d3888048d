// What-if: run the asset's model from its measured state (by default starting one horizon
// ago, so the run lies beside what the sensors recorded) and plot each measured output.
import { useEffect, useState } from 'preact/hooks';
import { gql } from './api.js';
import { Chart, epoch } from './chart.jsx';
import { Bottleneck } from './bottleneck.jsx';
import { bucketFor } from './history.jsx';
import { href } from './router.js';
import { ErrorBox, fmt, Loading, useQuery } from './util.jsx';

const SPEC = `query($id: ID!) { asset(id: $id) { id name level }
  simulationSpec(assetId: $id) { model parameters { name value } measuredOutputs { pointId name scale offset } }
  simulationModels { name description parameters { name unit description default min max } outputs { name unit } } }`;
const RUN = `mutation($id: ID!, $s: ScenarioInput!) { runSimulation(assetId: $id, scenario: $s) { id status } }`;
const POLL = `query($id: ID!) { simulationRun(id: $id) { id status progress message startAt outputs
  residuals { sensorId output n rmse bias } } }`;
const SERIES = `query($id: ID!, $out: String!) { simulationRun(id: $id) { series(output: $out) { timestamps values unit } } }`;
const MEASURED = `query($ids: [ID!]!, $from: DateTime, $to: DateTime, $bucket: String) {
  readings(sensorIds: $ids, from: $from, to: $to, bucket: $bucket, fill: NULL) { timestamps series { sensorId values } } }`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Measured values mapped onto the simulated axis (nearest bucket at or before). */
function align(xs, mxs, mvs) {
  const out = new Array(xs.length).fill(null);
  let j = 0;
  for (let i = 0; i < xs.length; i++) {
    while (j + 1 < mxs.length && mxs[j + 1] <= xs[i]) j++;
    if (mxs.length && mxs[j] <= xs[i] && xs[i] - mxs[j] < 2 * (mxs[1] - mxs[0] || 1)) out[i] = mvs[j];
  }
  return out;
}

function Form({ id, spec, model, onResult }) {
  const [minutes, setMinutes] = useState(10);
  const [replay, setReplay] = useState(true);
  const [params, setParams] = useState(() => Object.fromEntries(spec.parameters.map((p) => [p.name, String(p.value)])));
  const [status, setStatus] = useState(null);
  const [error, setError] = useState(null);
  const run = async (e) => {
    e.preventDefault();
    setError(null); setStatus({ status: 'queued', progress: 0 });
    try {
      const horizon = minutes * 60;
      const startAt = replay ? new Date(Date.now() - horizon * 1000) : new Date();
      const parameters = Object.entries(params).filter(([, v]) => v.trim() !== '').map(([name, v]) => ({ name, value: Number(v) }));
      const scenario = { horizonSeconds: horizon, stepSeconds: Math.max(0.1, horizon / 20000), parameters, startAt: startAt.toISOString() };
      let r = (await gql(RUN, { id, s: scenario })).runSimulation;
      while (!['succeeded', 'failed', 'cancelled'].includes(r.status)) {
        await sleep(500);
        r = (await gql(POLL, { id: r.id })).simulationRun;
        setStatus(r);
      }
      if (r.status !== 'succeeded') throw Object.assign(new Error(r.message || r.status), { code: r.status.toUpperCase() });
      const to = new Date(startAt.getTime() + horizon * 1000);
      const outs = spec.measuredOutputs.filter((m) => r.outputs.includes(m.name));
      const charts = [];
      const measured = outs.length ? (await gql(MEASURED, {
        ids: outs.map((m) => m.pointId), from: startAt.toISOString(), to: to.toISOString(), bucket: bucketFor(horizon) })).readings : null;
      for (const m of outs) {
        const s = (await gql(SERIES, { id: r.id, out: m.name })).simulationRun.series;
        const xs = s.timestamps.map(epoch);
        const k = measured.series.findIndex((x) => x.sensorId === m.pointId);
        const mv = k < 0 ? [] : measured.series[k].values.map((v) => (v === null ? null : m.scale * v + m.offset));
        charts.push({ output: m.name, sensor: m.pointId, xs, lines: [
          { label: `simulated ${m.name}`, unit: s.unit, values: s.values },
          { label: `measured ${m.pointId}`, unit: s.unit, values: align(xs, measured.timestamps.map(epoch), mv), dash: [5, 4], spanGaps: true },
        ] });
      }
      onResult({ run: r, charts, replay });
    } catch (err) { setError(err); }
  };
  return (
    <form class="panel whatif" onSubmit={run} data-testid="whatif-form">
      <h2>Scenario <span class="muted small">model {spec.model}</span></h2>
      <label>horizon (minutes) <input type="number" min="1" max="1440" value={minutes} onInput={(e) => setMinutes(Number(e.currentTarget.value))} /></label>
      <label class="check"><input type="checkbox" checked={replay} onChange={(e) => setReplay(e.currentTarget.checked)} />
        start one horizon ago (compare with measured history)</label>
      <details>
        <summary>parameters <span class="muted small">(empty: the model's default; filled: the plant's sim spec)</span></summary>
        <fieldset>
        {model.parameters.map((p) => (
          <label title={p.description}>{p.name} <span class="muted small">{p.unit} · {fmt(p.min)} … {fmt(p.max)}</span>
            <input value={params[p.name] ?? ''} placeholder={fmt(p.default)} onInput={(e) => setParams({ ...params, [p.name]: e.currentTarget.value })} />
          </label>
        ))}
        </fieldset>
      </details>
      <button type="submit" disabled={status && !['succeeded', 'failed', 'cancelled'].includes(status.status)}>Run simulation</button>
      {status ? <span class="muted" data-testid="sim-status"> {status.status} {Math.round((status.progress || 0) * 100)}%</span> : null}
      <ErrorBox error={error} />
    </form>
  );
}

export function WhatIfPage({ id, ctx }) {
  const q = useQuery(SPEC, { id }, [id]);
  const [result, setResult] = useState(null);
  useEffect(() => setResult(null), [id]);
  if (q.error) return <ErrorBox error={q.error} />;
  if (!q.data) return <Loading />;
  const { asset, simulationSpec: spec, simulationModels: models } = q.data;
  const model = spec && models.find((m) => m.name === spec.model);
  return (
    <div>
      <h1>{asset ? asset.name : id} <span class="muted small">what-if</span></h1>
      <p><a href={href('asset', id)}>asset page</a></p>
      {asset && asset.level === 'LINE' ? <Bottleneck id={id} can={ctx.can} /> : null}
      {!spec || !model ? <p class="muted">This asset has no simulation model of its own (its plant entry has no sim spec).</p>
        : ctx.can('engineer') ? <Form id={id} spec={spec} model={model} onResult={setResult} />
          : <p class="muted">Simulation runs need the engineer role.</p>}
      {result ? (
        <section class="panel" data-testid="whatif-result">
          <h2>Run {result.run.id} <span class="muted small">{result.run.status}</span></h2>
          {result.charts.map((c) => (
            <div><h3>{c.output} <span class="muted small">vs {c.sensor}</span></h3><Chart xs={c.xs} lines={c.lines} height={200} testid={`whatif-${c.output}`} /></div>
          ))}
          {!result.charts.length ? <p class="muted">The model has no measured outputs to compare.</p> : null}
          {result.run.residuals.length ? (
            <table>
              <thead><tr><th>output</th><th>sensor</th><th class="num">n</th><th class="num">rmse</th><th class="num">bias</th></tr></thead>
              <tbody>{result.run.residuals.map((r) => (
                <tr><td>{r.output}</td><td>{r.sensorId}</td><td class="num">{r.n}</td><td class="num">{fmt(r.rmse)}</td><td class="num">{fmt(r.bias)}</td></tr>
              ))}</tbody>
            </table>
          ) : null}
        </section>
      ) : null}
    </div>
  );
}
