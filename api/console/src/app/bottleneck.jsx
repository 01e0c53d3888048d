// The line bottleneck study: each station sped up 10% in turn (a discrete-event
// simulation run by twinql); bars of the throughput each gains, the bottleneck marked.
import { useState } from 'preact/hooks';
import { gql } from './api.js';
import { ErrorBox, fmt } from './util.jsx';

const STUDY = `query($id: ID!, $hours: Float!, $reps: Int!, $warmup: Float!) {
  lineBottleneck(lineId: $id, hours: $hours, replications: $reps, warmupHours: $warmup) {
    bottleneck baselineThroughputPerHour hours replications speedup
    stations { stationId cycleTimeSeconds gainPerHour gainPercent gainStderr utilisation blocked starved down parts } } }`;

function Bars({ study }) {
  const rows = study.stations;
  const top = Math.max(1e-9, ...rows.map((s) => s.gainPerHour + (s.gainStderr || 0)));
  const low = Math.min(0, ...rows.map((s) => s.gainPerHour - (s.gainStderr || 0)));
  const W = 640, H = 34 * rows.length + 30, L = 110, R = 70;
  const x = (v) => L + ((v - low) / (top - low)) * (W - L - R);
  return (
    <svg class="bars" viewBox={`0 0 ${W} ${H}`} data-testid="bottleneck-chart">
      <line x1={x(0)} x2={x(0)} y1="4" y2={H - 22} stroke="#9ca3af" />
      {rows.map((s, i) => {
        const y = 8 + i * 34;
        const neck = s.stationId === study.bottleneck;
        return (
          <g key={s.stationId}>
            <text x={L - 8} y={y + 15} text-anchor="end" class={neck ? 'neck' : ''}>{s.stationId}</text>
            <rect x={Math.min(x(0), x(s.gainPerHour))} y={y} height="22" width={Math.abs(x(s.gainPerHour) - x(0))}
              fill={neck ? '#dc2626' : '#60a5fa'} />
            {s.gainStderr ? <line x1={x(s.gainPerHour - s.gainStderr)} x2={x(s.gainPerHour + s.gainStderr)} y1={y + 11} y2={y + 11} stroke="#111827" /> : null}
            <text x={x(Math.max(0, s.gainPerHour + (s.gainStderr || 0))) + 6} y={y + 15}>{fmt(s.gainPerHour)}/h</text>
          </g>
        );
      })}
      <text x={W - R} y={H - 6} text-anchor="end" class="muted">throughput gained by a 10% faster station (parts per hour)</text>
    </svg>
  );
}

export function Bottleneck({ id, can }) {
  const [hours, setHours] = useState(8);
  const [reps, setReps] = useState(3);
  const [warmup, setWarmup] = useState(1);
  const [busy, setBusy] = useState(false);
  const [study, setStudy] = useState(null);
  const [error, setError] = useState(null);
  const run = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null);
    try { setStudy((await gql(STUDY, { id, hours, reps, warmup })).lineBottleneck); } catch (err) { setError(err); }
    setBusy(false);
  };
  if (!can('engineer')) return <p class="muted">The bottleneck study needs the engineer role.</p>;
  return (
    <section class="panel" data-testid="bottleneck">
      <h2>Line bottleneck</h2>
      <form class="toolbar" onSubmit={run}>
        <label>hours <input type="number" min="0.1" step="any" value={hours} onInput={(e) => setHours(Number(e.currentTarget.value))} /></label>
        <label>replications <input type="number" min="1" max="20" value={reps} onInput={(e) => setReps(Number(e.currentTarget.value))} /></label>
        <label>warm-up hours <input type="number" min="0" step="any" value={warmup} onInput={(e) => setWarmup(Number(e.currentTarget.value))} /></label>
        <button type="submit" disabled={busy}>{busy ? 'simulating…' : 'Find the bottleneck'}</button>
      </form>
      <ErrorBox error={error} />
      {study ? (
        <>
          <p>Bottleneck <b data-testid="bottleneck-id">{study.bottleneck}</b>: baseline {fmt(study.baselineThroughputPerHour)} parts/h
            over {fmt(study.hours)} h × {study.replications} replications.</p>
          <Bars study={study} />
          <table>
            <thead><tr><th>station</th><th class="num">cycle s</th><th class="num">utilisation</th><th class="num">blocked</th><th class="num">starved</th><th class="num">down</th><th class="num">gain %</th></tr></thead>
            <tbody>{study.stations.map((s) => (
              <tr><td>{s.stationId}</td><td class="num">{fmt(s.cycleTimeSeconds)}</td><td class="num">{fmt(100 * s.utilisation)}%</td>
                <td class="num">{fmt(100 * s.blocked)}%</td><td class="num">{fmt(100 * s.starved)}%</td><td class="num">{fmt(100 * s.down)}%</td><td class="num">{fmt(s.gainPercent)}</td></tr>
            ))}</tbody>
          </table>
        </>
      ) : null}
    </section>
  );
}
