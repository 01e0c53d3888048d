// History of chosen sensors over a time range, downsampled by the store (readings query).
import { useEffect, useMemo, useState } from 'preact/hooks';
import { gql } from './api.js';
import { Chart, epoch } from './chart.jsx';
import { ErrorBox } from './util.jsx';

const RANGES = [['5m', 300], ['15m', 900], ['1h', 3600], ['6h', 21600], ['24h', 86400], ['7d', 604800]];
const BUCKETS = [['1s', 1], ['5s', 5], ['15s', 15], ['1m', 60], ['5m', 300], ['15m', 900], ['1h', 3600], ['6h', 21600], ['1d', 86400]];
const POINTS = 360; // at most about this many buckets per series

const READINGS = `query($ids: [ID!]!, $from: DateTime, $to: DateTime, $bucket: String) {
  readings(sensorIds: $ids, from: $from, to: $to, bucket: $bucket, aggregate: AVG, fill: NULL) {
    timestamps bucketSeconds aggregate series { sensorId unit values } } }`;

export function bucketFor(seconds) {
  const b = BUCKETS.find(([, s]) => seconds / s <= POINTS);
  return (b || BUCKETS[BUCKETS.length - 1])[0];
}

const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);

export function History({ sensors, chosen }) {
  const [span, setSpan] = useState(3600);
  const [custom, setCustom] = useState(null); // {from, to} as datetime-local strings
  const [state, setState] = useState({ data: null, error: null, loading: false });
  const [tick, setTick] = useState(0);
  const ids = sensors.filter((s) => chosen.includes(s.id)).map((s) => s.id);
  useEffect(() => {
    if (!ids.length) return undefined;
    const to = custom ? new Date(custom.to) : new Date();
    const from = custom ? new Date(custom.from) : new Date(to.getTime() - span * 1000);
    const bucket = bucketFor((to - from) / 1000);
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    gql(READINGS, { ids, from: from.toISOString(), to: to.toISOString(), bucket }).then(
      (d) => live && setState({ data: d.readings, error: null, loading: false }),
      (e) => live && setState({ data: null, error: e, loading: false }));
    return () => { live = false; };
  }, [ids.join(','), span, custom && custom.from, custom && custom.to, tick]);

  const plotted = useMemo(() => {
    const r = state.data;
    if (!r) return null;
    const names = Object.fromEntries(sensors.map((s) => [s.id, s.name || s.id]));
    return {
      xs: r.timestamps.map(epoch),
      lines: r.series.map((s) => ({ label: names[s.sensorId] || s.sensorId, unit: s.unit, values: s.values })),
    };
  }, [state.data]);

  const r = state.data;
  return (
    <section class="panel">
      <h2>History</h2>
      <div class="toolbar" data-testid="range-picker">
        {RANGES.map(([label, s]) => (
          <button class={!custom && span === s ? 'on' : ''} onClick={() => { setCustom(null); setSpan(s); }}>{label}</button>
        ))}
        <button class={custom ? 'on' : ''} onClick={() => setCustom(custom || {
          from: local(new Date(Date.now() - span * 1000)), to: local(new Date()) })}>custom</button>
        {custom ? (
          <span>
            <input type="datetime-local" value={custom.from} onChange={(e) => setCustom({ ...custom, from: e.currentTarget.value })} aria-label="from" />
            {' – '}
            <input type="datetime-local" value={custom.to} onChange={(e) => setCustom({ ...custom, to: e.currentTarget.value })} aria-label="to" />
          </span>
        ) : null}
        <button class="link" onClick={() => setTick(tick + 1)}>refresh</button>
      </div>
      {!ids.length ? <p class="muted">Tick sensors above to plot them.</p> : null}
      <ErrorBox error={state.error} />
      {plotted && ids.length ? (
        <>
          <Chart xs={plotted.xs} lines={plotted.lines} testid="history-chart" />
          <p class="muted small" data-testid="history-info">
            {r.timestamps.length} buckets of {r.bucketSeconds}s ({(r.aggregate || 'raw').toLowerCase()}), computed by the readings store
          </p>
        </>
      ) : null}
    </section>
  );
}
