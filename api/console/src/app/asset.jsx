// An asset: sensors with live values, history, alerts, actuators (setpoints),
// maintenance and work orders, and the analytics panel (health.jsx).
import { useEffect, useState } from 'preact/hooks';
import { gql, subscribe } from './api.js';
import { HealthPanel, useHealth } from './health.jsx';
import { History } from './history.jsx';
import { href } from './router.js';
import { clock, ErrorBox, fmt, Loading, range, useQuery, when } from './util.jsx';

const ASSET = `query($id: ID!) { asset(id: $id) {
  id name type level description
  ancestors { id name }
  sensors { id name kind unit minValue maxValue warnLow warnHigh failLow failHigh latest { value timestamp quality } }
  actuators { id name unit minValue maxValue
    commands(first: 5) { id value status confirmedValue message requestedAt requestedBy } }
  alerts(first: 20) { id rule severity state active message value threshold sensorId raisedAt acknowledgedBy acknowledgeNote }
  maintenance(first: 10) { nodes { id kind at description technician cost downtimeMinutes } }
  workOrders { id status priority createdAt dueAt reason }
} }`;

const LIVE = `subscription($ids: [ID!]) { liveReadings(sensorIds: $ids, throttleMs: 500) {
  readings { sensorId value timestamp quality } } }`;

// A failure limit: at or beyond it the asset trips or is failed.
const failAt = (s) => [s.failLow !== null ? `≤ ${fmt(s.failLow)}` : '', s.failHigh !== null ? `≥ ${fmt(s.failHigh)}` : '']
  .filter(Boolean).join(' · ') || '–';

function Sensors({ sensors, chosen, setChosen }) {
  const [live, setLive] = useState({});
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!sensors.length) return undefined;
    return subscribe(LIVE, { ids: sensors.map((s) => s.id) }, (d) => {
      setError(null);
      setLive((prev) => {
        const next = { ...prev };
        for (const r of d.liveReadings.readings) next[r.sensorId] = r;
        return next;
      });
    }, setError);
  }, [sensors.map((s) => s.id).join(',')]);
  const toggle = (id) => setChosen(chosen.includes(id) ? chosen.filter((x) => x !== id) : [...chosen, id]);
  return (
    <section class="panel">
      <h2>Sensors <span class="muted small">{Object.keys(live).length ? 'live' : 'waiting for live values…'}</span></h2>
      <ErrorBox error={error} />
      {sensors.length ? (
        <table>
          <thead><tr><th>plot</th><th>sensor</th><th class="num">value</th><th>unit</th><th>quality</th><th>range</th><th>warning</th><th>fails at</th><th>at</th></tr></thead>
          <tbody>
            {sensors.map((s) => {
              const v = live[s.id] || s.latest;
              const warn = v && v.value !== null && ((s.warnHigh !== null && v.value > s.warnHigh) || (s.warnLow !== null && v.value < s.warnLow));
              return (
                <tr key={s.id} data-testid={`sensor-${s.id}`}>
                  <td><input type="checkbox" checked={chosen.includes(s.id)} onChange={() => toggle(s.id)} aria-label={`plot ${s.id}`} /></td>
                  <td>{s.name || s.id}<div class="muted small">{s.id}</div></td>
                  <td class={`num value ${warn ? 'warn' : ''}`} data-testid={`value-${s.id}`}>{v ? fmt(v.value, 4) : '–'}</td>
                  <td>{s.unit}</td>
                  <td><span class={`q q-${v ? v.quality.toLowerCase() : 'missing'}`}>{v ? v.quality.toLowerCase() : '–'}</span></td>
                  <td class="nowrap">{range(s.minValue, s.maxValue)}</td>
                  <td class="nowrap">{range(s.warnLow, s.warnHigh)}</td>
                  <td class="nowrap" data-testid={`fail-${s.id}`}>{failAt(s)}</td>
                  <td class="small nowrap" data-testid={`at-${s.id}`}>{v ? clock(v.timestamp) : '–'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : <p class="muted">No sensors.</p>}
    </section>
  );
}

const ALERT_CHANGES = `subscription($id: ID!) { alerts(assetId: $id, includeDescendants: false) { kind } }`;

const ACK = `mutation($id: ID!, $note: String!) { acknowledgeAlert(id: $id, note: $note) {
  id state acknowledgedBy acknowledgeNote } }`;

function Alerts({ alerts, can, reload }) {
  const [note, setNote] = useState({});
  const [error, setError] = useState(null);
  const ack = async (id) => {
    setError(null);
    try { await gql(ACK, { id, note: note[id] || '' }); reload(); } catch (e) { setError(e); }
  };
  return (
    <section class="panel">
      <h2>Alerts</h2>
      <ErrorBox error={error} />
      {alerts.length ? (
        <table>
          <thead><tr><th>severity</th><th>state</th><th>message</th><th>raised</th><th /></tr></thead>
          <tbody>
            {alerts.map((a) => (
              <tr key={a.id} data-testid={`alert-${a.id}`}>
                <td><span class={`sev sev-${a.severity}`}>{a.severity.toLowerCase()}</span></td>
                <td>{a.state.toLowerCase()}</td>
                <td>{a.message}{a.acknowledgedBy ? <div class="muted small">acknowledged by {a.acknowledgedBy}{a.acknowledgeNote ? `: ${a.acknowledgeNote}` : ''}</div> : null}</td>
                <td class="small">{when(a.raisedAt)}</td>
                <td>{can('operator') && a.state === 'ACTIVE' ? (
                  <span class="inline">
                    <input placeholder="note" value={note[a.id] || ''} onInput={(e) => setNote({ ...note, [a.id]: e.currentTarget.value })} />
                    <button onClick={() => ack(a.id)}>Acknowledge</button>
                  </span>
                ) : null}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <p class="muted">No alerts.</p>}
    </section>
  );
}

const WRITE = `mutation($id: ID!, $value: Float!, $reason: String!) {
  writeSetpoint(actuatorId: $id, value: $value, reason: $reason) {
    id value status confirmedValue message requestedAt requestedBy } }`;

function Setpoint({ a, onSent }) {
  const [value, setValue] = useState('');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState(null);
  const [error, setError] = useState(null);
  const send = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null); setOutcome(null);
    try {
      const v = Number(value);
      if (value.trim() === '' || Number.isNaN(v)) throw Object.assign(new Error('enter a number'), { code: '' });
      setOutcome((await gql(WRITE, { id: a.id, value: v, reason })).writeSetpoint);
      onSent();
    } catch (err) { setError(err); }
    setBusy(false);
  };
  return (
    <form class="setpoint" onSubmit={send} noValidate data-testid={`setpoint-${a.id}`}>
      <label>value ({a.unit})
        <input name="value" inputMode="decimal" value={value} placeholder={`${fmt(a.minValue)} … ${fmt(a.maxValue)}`}
          onInput={(e) => setValue(e.currentTarget.value)} />
      </label>
      <label>reason <input name="reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} /></label>
      <button type="submit" disabled={busy}>{busy ? 'sending…' : 'Send setpoint'}</button>
      <ErrorBox error={error} />
      {outcome ? (
        <div class={`outcome st-${outcome.status}`} data-testid="outcome">
          <b>{outcome.status}</b> {fmt(outcome.value)} {a.unit}
          {outcome.confirmedValue !== null ? ` · device confirmed ${fmt(outcome.confirmedValue, 5)} ${a.unit}` : ''}
          {outcome.message ? ` · ${outcome.message}` : ''}
          <div class="muted small">command {outcome.id}</div>
        </div>
      ) : null}
    </form>
  );
}

function Actuators({ actuators, can, reload }) {
  if (!actuators.length) return null;
  return (
    <section class="panel">
      <h2>Actuators</h2>
      {actuators.map((a) => (
        <div class="actuator" key={a.id} data-testid={`actuator-${a.id}`}>
          <h3>{a.name || a.id} <span class="muted small">{a.id}</span></h3>
          <p>limits <b data-testid="limits">{range(a.minValue, a.maxValue, a.unit)}</b></p>
          {can('operator') ? <Setpoint a={a} onSent={reload} /> : <p class="muted small">Setpoints need the operator role.</p>}
          {a.commands.length ? (
            <details>
              <summary>recent commands</summary>
              <table>
                <tbody>{a.commands.map((c) => (
                  <tr key={c.id}><td class="small">{when(c.requestedAt)}</td><td>{fmt(c.value)}</td>
                    <td class={`st-${c.status}`}>{c.status}</td><td>{c.requestedBy}</td><td class="small">{c.message}</td></tr>
                ))}</tbody>
              </table>
            </details>
          ) : null}
        </div>
      ))}
    </section>
  );
}

function Maintenance({ events, orders }) {
  return (
    <section class="panel">
      <h2>Maintenance and work orders</h2>
      {events.length ? (
        <table>
          <thead><tr><th>at</th><th>kind</th><th>description</th><th>technician</th><th class="num">cost</th><th class="num">downtime min</th></tr></thead>
          <tbody>{events.map((m) => (
            <tr key={m.id}><td class="small">{when(m.at)}</td><td>{m.kind}</td><td>{m.description}</td><td>{m.technician}</td>
              <td class="num">{fmt(m.cost)}</td><td class="num">{fmt(m.downtimeMinutes)}</td></tr>
          ))}</tbody>
        </table>
      ) : <p class="muted">No maintenance recorded.</p>}
      {orders.length ? (
        <table>
          <thead><tr><th>work order</th><th>status</th><th>priority</th><th>due</th><th>reason</th></tr></thead>
          <tbody>{orders.map((w) => (
            <tr key={w.id}><td>{w.id}</td><td>{w.status.toLowerCase()}</td><td>{w.priority}</td><td class="small">{when(w.dueAt)}</td><td>{w.reason}</td></tr>
          ))}</tbody>
        </table>
      ) : <p class="muted small">No work orders.</p>}
    </section>
  );
}

export function AssetPage({ id, ctx }) {
  const q = useQuery(ASSET, { id }, [id]);
  const health = useHealth(id); // asked at once, not after the asset's answer
  const [chosen, setChosen] = useState([]);
  const a = q.data && q.data.asset;
  // alerts raised, cleared or acknowledged on this asset refresh the page's data
  useEffect(() => subscribe(ALERT_CHANGES, { id }, () => q.reload(), () => {}), [id]);
  useEffect(() => {
    if (a) {
      ctx.setFocus(a.ancestors.map((x) => x.id));
      if (!chosen.length && a.sensors.length) setChosen([a.sensors[0].id]);
    }
  }, [a]);
  if (q.error) return <ErrorBox error={q.error} />;
  if (!q.data) return <Loading />;
  if (!a) return <div class="error">NOT_FOUND no asset {id}</div>;
  return (
    <div class="asset">
      <nav class="crumbs">{[...a.ancestors].reverse().map((x) => <><a href={href('asset', x.id)}>{x.name || x.id}</a> / </>)}</nav>
      <h1 data-testid="asset-title">{a.name || a.id} <span class={`lvl lvl-${a.level}`}>{a.level.toLowerCase()}</span></h1>
      <p class="muted">{a.id} · {a.type}{a.description ? ` · ${a.description}` : ''}</p>
      <div class="toolbar">
        <a class="button" href={href('graph', a.id)}>Graph</a>
        <a class="button" href={href('graph', a.id, { mode: 'impact' })}>Impact</a>
        <a class="button" href={href('graph', a.id, { mode: 'rootCauses' })}>Root causes</a>
        <a class="button" href={href('whatif', a.id)}>What-if</a>
      </div>
      <Sensors sensors={a.sensors} chosen={chosen} setChosen={setChosen} />
      {a.sensors.length ? <History sensors={a.sensors} chosen={chosen} /> : null}
      <HealthPanel id={a.id} q={health} sensors={a.sensors} can={ctx.can} />
      <Alerts alerts={a.alerts} can={ctx.can} reload={q.reload} />
      <Actuators actuators={a.actuators} can={ctx.can} reload={q.reload} />
      <Maintenance events={a.maintenance.nodes} orders={a.workOrders} />
    </div>
  );
}
