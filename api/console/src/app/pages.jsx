// Overview, data sources with their connector status, rejected readings.
import { useEffect, useState } from 'preact/hooks';
import { href } from './router.js';
import { ErrorBox, fmt, Loading, useQuery, when } from './util.jsx';

const OVERVIEW = `{ graphStats { assets sensors actuators }
  alerts(active: true, first: 20) { nodes { id severity state message assetId raisedAt } } }`;

export function Home() {
  const q = useQuery(OVERVIEW, {}, []);
  if (q.error) return <ErrorBox error={q.error} />;
  if (!q.data) return <Loading />;
  const s = q.data.graphStats;
  const alerts = q.data.alerts.nodes;
  return (
    <div>
      <h1>Overview</h1>
      <div class="stats">
        <div><b>{s.assets}</b> assets</div><div><b>{s.sensors}</b> sensors</div><div><b>{s.actuators}</b> actuators</div>
        <div><b>{alerts.length}</b> active alerts</div>
      </div>
      <section class="panel">
        <h2>Active alerts</h2>
        {alerts.length ? (
          <table><tbody>{alerts.map((a) => (
            <tr><td><span class={`sev sev-${a.severity}`}>{a.severity.toLowerCase()}</span></td>
              <td><a href={href('asset', a.assetId)}>{a.assetId}</a></td><td>{a.message}</td><td class="small">{when(a.raisedAt)}</td></tr>
          ))}</tbody></table>
        ) : <p class="muted">None.</p>}
      </section>
      <p class="muted">Pick an asset in the tree, or search by id or name.</p>
    </div>
  );
}

const SOURCES = `{ dataSources { id name protocol endpoint sensorBindings { sensorId } actuatorBindings { actuatorId }
  status { state connected connectedSince lastValueAt lastError lastErrorAt messages readings errors reconnects writes writeFailures } }
  serviceStatus { connectors { total byState { state count } } ingest { received stored rejected queueDepth lagSeconds } } }`;

export function SourcesPage() {
  const q = useQuery(SOURCES, {}, []);
  useEffect(() => { const t = setInterval(q.reload, 5000); return () => clearInterval(t); }, []);
  if (q.error) return <ErrorBox error={q.error} />;
  if (!q.data) return <Loading />;
  const { dataSources, serviceStatus } = q.data;
  const c = serviceStatus.connectors;
  const i = serviceStatus.ingest;
  return (
    <div>
      <h1>Data sources</h1>
      <div class="stats">
        {c ? <div><b>{c.total}</b> connectors: {c.byState.map((b) => `${b.count} ${b.state.toLowerCase()}`).join(', ')}</div> : null}
        {i ? <div><b>{fmt(i.stored, 6)}</b> stored · {fmt(i.rejected, 6)} rejected · queue {i.queueDepth} · lag {fmt(i.lagSeconds)} s</div> : null}
      </div>
      <table class="sources" data-testid="sources">
        <thead><tr><th>source</th><th>protocol</th><th>endpoint</th><th>state</th><th>bindings</th><th>last value</th><th class="num">readings</th><th class="num">errors</th><th>last error</th></tr></thead>
        <tbody>{dataSources.map((d) => {
          const s = d.status;
          return (
            <tr data-testid={`source-${d.id}`}>
              <td>{d.name || d.id}<div class="muted small">{d.id}</div></td>
              <td>{d.protocol.toLowerCase()}</td>
              <td class="small mono">{d.endpoint}</td>
              <td>{s ? <span class={`state st-${s.state}`}>{s.state.toLowerCase()}</span> : <span class="muted">no connector</span>}</td>
              <td class="small">{d.sensorBindings.length} sensors, {d.actuatorBindings.length} actuators</td>
              <td class="small">{s ? when(s.lastValueAt) : '–'}</td>
              <td class="num">{s ? s.readings : '–'}</td>
              <td class="num">{s ? s.errors + s.writeFailures : '–'}</td>
              <td class="small">{s && s.lastError ? <>{s.lastError}<div class="muted">{when(s.lastErrorAt)}</div></> : ''}</td>
            </tr>
          );
        })}</tbody>
      </table>
    </div>
  );
}

const REJECTED = `query($sensor: ID) { rejectedReadings(sensorId: $sensor, limit: 200) { receivedAt sensorId assetId raw reason } }`;

export function RejectedPage() {
  const [sensor, setSensor] = useState('');
  const [applied, setApplied] = useState('');
  const q = useQuery(REJECTED, { sensor: applied || null }, [applied]);
  return (
    <div>
      <h1>Rejected readings</h1>
      <form class="toolbar" onSubmit={(e) => { e.preventDefault(); setApplied(sensor.trim()); }}>
        <input placeholder="sensor id (all when empty)" value={sensor} onInput={(e) => setSensor(e.currentTarget.value)} />
        <button type="submit">Filter</button>
        <button type="button" class="link" onClick={q.reload}>refresh</button>
      </form>
      <ErrorBox error={q.error} />
      {q.data ? (
        q.data.rejectedReadings.length ? (
          <table data-testid="rejected">
            <thead><tr><th>received</th><th>sensor</th><th>asset</th><th>reason</th><th>raw</th></tr></thead>
            <tbody>{q.data.rejectedReadings.map((r) => (
              <tr><td class="small">{when(r.receivedAt)}</td><td>{r.sensorId}</td><td>{r.assetId}</td><td>{r.reason}</td><td class="small mono raw">{r.raw}</td></tr>
            ))}</tbody>
          </table>
        ) : <p class="muted">No rejected readings.</p>
      ) : <Loading />}
    </div>
  );
}
