// The analytics panel of an asset page: health index, anomaly score with the sensors
// that drive it, remaining useful life with its interval (or why each is unknown), the
// method and data window, the stored assessments as a chart, the open work orders and,
// for operators, "Assess now". Stored assessments (healthChanges) refresh it.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { gql, subscribe } from './api.js';
import { Chart, epoch } from './chart.jsx';
import { ErrorBox, fmt, useQuery, when } from './util.jsx';

const FIGURES = `asOf assessmentId healthIndex limitingSensor unknownReason priority recommendation
  method windowFrom windowTo fleetLives
  rul { hours low high confidence method unknownReason }
  anomaly { score anomalous threshold contributions { sensorId share } modelVersion unknownReason }
  workOrder { id priority }`;

const HEALTH = `query($id: ID!) {
  asset(id: $id) { health { ${FIGURES} } workOrders { id status priority reason createdAt dueAt } }
  healthHistory(assetId: $id, first: 200) { nodes { asOf healthIndex anomalyScore rul { hours } } }
}`;

const ASSESS = `mutation($id: ID!) { assessHealth(assetId: $id) { ${FIGURES} } }`;

const CHANGES = `subscription($id: ID!) { healthChanges(assetId: $id, includeDescendants: false) { assessment { id } } }`;

// The API's reason codes (docs/analytics.md), in words.
const REASONS = {
  no_failure_limit: 'no sensor of this asset declares a failure limit',
  too_little_history: 'too little history yet: no complete data window',
  not_degrading: 'not degrading: the trend is flat or improving',
  no_trend: 'no significant trend yet',
  no_fleet_history: 'no recorded lives of this asset type to learn from',
  no_model: 'no anomaly model trained for this asset yet',
  no_complete_window: 'no complete data window yet',
  no_data: 'no data in the window',
  unknown: 'not known',
};

export const inWords = (code) => REASONS[code] || (code || 'not known').replace(/_/g, ' ');

const pct = (x) => (x === null || x === undefined ? '–' : `${Math.round(x * 100)} %`);

// A duration given in hours, in the unit that reads best (of the central value `h`).
function span(h) {
  const [div, unit] = h < 1 ? [1 / 60, 'min'] : [1, 'h'];
  return (x) => (x === null || x === undefined ? '–' : `${fmt(x / div)} ${unit}`);
}

function Rul({ r }) {
  const as = span(r.hours);
  return (
    <>
      <b data-testid="rul-hours" data-value={r.hours}>{as(r.hours)}</b>
      {r.hours >= 48 ? <span class="muted small"> ({fmt(r.hours / 24, 2)} days)</span> : null}
      <div class="small">
        {r.low !== null || r.high !== null ? `${as(r.low)} … ${as(r.high)}` : 'no interval'}
        {r.confidence !== null ? ` at ${pct(r.confidence)} confidence` : ''}
      </div>
    </>
  );
}

const OPEN = ['OPEN', 'IN_PROGRESS'];

function Unknown({ code, testid }) {
  return <p class="unknown" data-testid={testid} data-reason={code}>unknown: {inWords(code)}</p>;
}

function Figures({ h, names }) {
  const name = (id) => names[id] || id;
  const top = [...h.anomaly.contributions].sort((a, b) => b.share - a.share).slice(0, 3);
  const r = h.rul;
  return (
    <div class="figures">
      <div class="figure" data-testid="health">
        <div class="label">health index</div>
        {h.healthIndex !== null ? (
          <>
            <b data-testid="health-index" data-value={h.healthIndex}>{h.healthIndex.toFixed(2)}</b>
            <div class="meter"><i style={{ width: `${Math.max(0, Math.min(1, h.healthIndex)) * 100}%` }} /></div>
            <div class="muted small">1 as new, 0 at a failure limit{h.limitingSensor ? `; worst: ${name(h.limitingSensor)}` : ''}</div>
          </>
        ) : <Unknown code={h.unknownReason} testid="health-unknown" />}
      </div>
      <div class="figure" data-testid="anomaly">
        <div class="label">anomaly score</div>
        {h.anomaly.score !== null ? (
          <>
            <b data-testid="anomaly-score" class={h.anomaly.anomalous ? 'bad' : ''}>{fmt(h.anomaly.score, 2)}</b>
            <span class="muted small"> {h.anomaly.anomalous ? 'anomalous' : 'normal'} (threshold {fmt(h.anomaly.threshold, 2)})</span>
            {top.length ? (
              <ul class="shares" data-testid="contributions">
                {top.map((c) => <li key={c.sensorId}>{name(c.sensorId)} <span class="muted">{pct(c.share)}</span></li>)}
              </ul>
            ) : null}
          </>
        ) : <Unknown code={h.anomaly.unknownReason} testid="anomaly-unknown" />}
      </div>
      <div class="figure" data-testid="rul">
        <div class="label">remaining useful life</div>
        {r.hours !== null ? <Rul r={r} /> : <Unknown code={r.unknownReason} testid="rul-unknown" />}
        <div class="muted small">{r.method}</div>
      </div>
      <div class="figure">
        <div class="label">priority</div>
        <span class={`prio prio-${h.priority}`} data-testid="priority">{h.priority.toLowerCase()}</span>
        <div class="small">{h.recommendation}</div>
      </div>
    </div>
  );
}

function Trend({ nodes }) {
  const plotted = useMemo(() => {
    const ns = [...nodes].reverse(); // oldest first
    return {
      xs: ns.map((n) => epoch(n.asOf)),
      lines: [
        { label: 'health index', unit: 'index, score', values: ns.map((n) => n.healthIndex), colour: '#16a34a', spanGaps: true },
        { label: 'anomaly score', unit: 'index, score', values: ns.map((n) => n.anomalyScore), colour: '#d97706', spanGaps: true },
        { label: 'RUL', unit: 'h', values: ns.map((n) => n.rul.hours), colour: '#7c3aed', dash: [4, 3], spanGaps: true },
      ],
    };
  }, [nodes]);
  if (nodes.length < 2) {
    return <p class="muted small" data-testid="health-trend">{nodes.length ? 'One stored assessment' : 'No stored assessments'} yet: the chart needs two.</p>;
  }
  return (
    <>
      <Chart xs={plotted.xs} lines={plotted.lines} height={150} ranges={{ 'index, score': [0, 1] }} testid="health-chart" />
      <p class="muted small" data-testid="health-trend">the last {nodes.length} stored assessments</p>
    </>
  );
}

function Orders({ orders }) {
  const open = orders.filter((w) => OPEN.includes(w.status));
  if (!open.length) return <p class="muted small" data-testid="open-orders">No open work orders.</p>;
  return (
    <table data-testid="open-orders">
      <thead><tr><th>open work order</th><th class="num">priority</th><th>reason</th><th>status</th><th>due</th></tr></thead>
      <tbody>{open.map((w) => (
        <tr key={w.id} data-testid={`order-${w.id}`}>
          <td>{w.id}</td><td class="num">{w.priority}</td><td>{w.reason}</td>
          <td>{w.status.toLowerCase().replace('_', ' ')}</td><td class="small">{when(w.dueAt)}</td>
        </tr>
      ))}</tbody>
    </table>
  );
}

/** The panel's query; the asset page starts it beside its own (Asset.health computes). */
export const useHealth = (id) => useQuery(HEALTH, { id }, [id]);

export function HealthPanel({ id, q, sensors, can }) {
  const [busy, setBusy] = useState(false);
  const [assessed, setAssessed] = useState(null);
  const [error, setError] = useState(null);
  // assessments stored for this asset (timer, another operator, "Assess now") refresh it;
  // without a token subscriptions are refused: the sensors panel shows that refusal
  // (a newer assessment than the one "Assess now" showed replaces it)
  useEffect(() => subscribe(CHANGES, { id }, (d) => {
    setAssessed((x) => (x && x.assessmentId !== d.healthChanges.assessment.id ? null : x));
    q.reload();
  }, () => {}), [id]);
  const names = Object.fromEntries(sensors.map((s) => [s.id, s.name || s.id]));
  const assess = async () => {
    setBusy(true); setError(null);
    try { setAssessed((await gql(ASSESS, { id })).assessHealth); q.reload(); } catch (e) { setError(e); }
    setBusy(false);
  };
  const a = q.data && q.data.asset;
  const h = assessed || (a && a.health);
  return (
    <section class="panel analytics" data-testid="analytics-panel">
      <h2>
        Health, anomaly and remaining life
        {can('operator') ? <button class="assess" onClick={assess} disabled={busy} data-testid="assess">{busy ? 'assessing…' : 'Assess now'}</button> : null}
      </h2>
      <ErrorBox error={q.error || error} />
      {h ? (
        <>
          {assessed ? (
            <p class="assessed small" data-testid="assessed" data-id={assessed.assessmentId}>
              Assessed {when(assessed.asOf)}, stored as {assessed.assessmentId}
              {assessed.workOrder ? `; work order ${assessed.workOrder.id} (priority ${assessed.workOrder.priority}) is active` : ''}
              {' '}<button class="link" onClick={() => setAssessed(null)}>show the current figures</button>
            </p>
          ) : null}
          <Figures h={h} names={names} />
          <p class="muted small" data-testid="health-method">
            method: {h.method}; {h.windowFrom ? `data ${when(h.windowFrom)} – ${when(h.windowTo)}` : 'no data window'}
            {h.fleetLives ? `; ${h.fleetLives} recorded lives of the fleet` : ''}
          </p>
        </>
      ) : null}
      {q.data ? <Trend nodes={q.data.healthHistory.nodes} /> : null}
      {a ? <Orders orders={a.workOrders} /> : null}
    </section>
  );
}
