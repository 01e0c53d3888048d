// The graph around an asset: neighbourhood (hierarchy and process relations), impact
// (downstream) or root causes (upstream). Hand-drawn SVG: rings by distance, drag to pan,
// wheel to zoom, click a node to open its asset page.
import { useMemo, useRef, useState } from 'preact/hooks';
import { go, href } from './router.js';
import { ErrorBox, Loading, useQuery } from './util.jsx';

const NEIGHBOURHOOD = `query($id: ID!, $hops: Int!) { asset(id: $id) { id name }
  neighbourhood(assetId: $id, hops: $hops) { nodes { id name type level distance } edges { source target type } truncated } }`;
const WALK = (field) => `query($id: ID!, $depth: Int!) { asset(id: $id) { id name type level
  ${field}(maxDepth: $depth, limit: 300) { distance via path asset { id name type level } } } }`;

const EDGE_COLOURS = { PART_OF: '#9ca3af', FEEDS: '#2563eb', DEPENDS_ON: '#d97706', CONNECTED_TO: '#16a34a' };
const LEVEL_COLOURS = {
  ENTERPRISE: '#1e3a8a', SITE: '#1d4ed8', AREA: '#0369a1', LINE: '#0f766e', UNIT: '#4d7c0f', EQUIPMENT: '#b45309', COMPONENT: '#9f1239',
};

/** {nodes, edges} from a walk's reachables (upstream reverses the arrows). */
function fromWalk(start, reach, upstream) {
  const nodes = [{ ...start, distance: 0 }];
  const edges = [];
  for (const r of reach) {
    nodes.push({ ...r.asset, distance: r.distance });
    const [a, b] = r.path.slice(-2);
    edges.push(upstream ? { source: b, target: a, type: r.via } : { source: a, target: b, type: r.via });
  }
  return { nodes, edges, truncated: false };
}

/** Positions on rings by distance; each ring ordered by where its nodes attach inward. */
export function layout(nodes, edges) {
  const pos = {};
  const byDist = {};
  for (const n of nodes) (byDist[n.distance] = byDist[n.distance] || []).push(n);
  const links = {};
  for (const e of edges) {
    (links[e.source] = links[e.source] || []).push(e.target);
    (links[e.target] = links[e.target] || []).push(e.source);
  }
  const dists = Object.keys(byDist).map(Number).sort((a, b) => a - b);
  for (const d of dists) {
    const ring = byDist[d];
    if (d === 0) { ring.forEach((n, i) => { pos[n.id] = { x: i * 60, y: 0, a: 0 }; }); continue; }
    const inward = (n) => {
      const angles = (links[n.id] || []).filter((m) => pos[m]).map((m) => pos[m].a);
      return angles.length ? angles.reduce((s, x) => s + x, 0) / angles.length : 0;
    };
    ring.sort((p, q) => inward(p) - inward(q) || (p.id < q.id ? -1 : 1));
    const r = 130 * d + Math.max(0, ring.length - 12) * 7;
    ring.forEach((n, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * (i + 0.5)) / ring.length;
      pos[n.id] = { x: 1.7 * r * Math.cos(a), y: r * Math.sin(a), a }; // wide: screens are
    });
  }
  return pos;
}

function Canvas({ view, centre }) {
  const pos = useMemo(() => layout(view.nodes, view.edges), [view]);
  const [t, setT] = useState({ x: 0, y: 0, k: 1 });
  const drag = useRef(null);
  const svg = useRef(null);
  const moved = useRef(false);
  const xs = Object.values(pos).map((p) => p.x);
  const ys = Object.values(pos).map((p) => p.y);
  const box = { x: Math.min(...xs) - 110, y: Math.min(...ys) - 30, w: Math.max(...xs) - Math.min(...xs) + 220, h: Math.max(...ys) - Math.min(...ys) + 70 };
  if (box.w < 800) { box.x -= (800 - box.w) / 2; box.w = 800; } // a few nodes stay node-sized
  if (box.h < 450) { box.y -= (450 - box.h) / 2; box.h = 450; }
  const down = (e) => { drag.current = { x: e.clientX, y: e.clientY, t }; moved.current = false; };
  const move = (e) => {
    if (!drag.current) return;
    const s = Math.max(box.w / svg.current.clientWidth, box.h / svg.current.clientHeight);
    const dx = (e.clientX - drag.current.x) * s;
    const dy = (e.clientY - drag.current.y) * s;
    if (Math.abs(dx) + Math.abs(dy) > 3) moved.current = true;
    setT({ ...drag.current.t, x: drag.current.t.x + dx, y: drag.current.t.y + dy });
  };
  const up = () => { drag.current = null; };
  const wheel = (e) => {
    e.preventDefault();
    const k = Math.min(8, Math.max(0.2, t.k * (e.deltaY < 0 ? 1.15 : 1 / 1.15)));
    setT({ ...t, k });
  };
  const open = (id) => { if (!moved.current) go('asset', id); };
  return (
    <svg ref={svg} class="graph" data-testid="graph" viewBox={`${box.x} ${box.y} ${box.w} ${box.h}`}
      onPointerDown={down} onPointerMove={move} onPointerUp={up} onPointerLeave={up} onWheel={wheel}>
      <defs>
        {Object.entries(EDGE_COLOURS).map(([type, c]) => (
          <marker id={`arrow-${type}`} viewBox="0 0 10 10" refX="22" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" fill={c} />
          </marker>
        ))}
      </defs>
      <g transform={`translate(${t.x} ${t.y}) scale(${t.k})`}>
        {view.edges.filter((e) => pos[e.source] && pos[e.target]).map((e) => (
          <line x1={pos[e.source].x} y1={pos[e.source].y} x2={pos[e.target].x} y2={pos[e.target].y}
            stroke={EDGE_COLOURS[e.type] || '#6b7280'} stroke-width={e.type === 'PART_OF' ? 1.2 : 2.2}
            stroke-dasharray={e.type === 'PART_OF' ? '4 3' : null} marker-end={`url(#arrow-${EDGE_COLOURS[e.type] ? e.type : 'PART_OF'})`}>
            <title>{`${e.source} ${e.type} ${e.target}`}</title>
          </line>
        ))}
        {view.nodes.map((n) => {
          const p = pos[n.id];
          return (
            <g class={`gnode ${n.id === centre ? 'centre' : ''}`} transform={`translate(${p.x} ${p.y})`}
              onClick={() => open(n.id)} data-testid={`gnode-${n.id}`}>
              <circle r={n.id === centre ? 16 : 11} fill={LEVEL_COLOURS[String(n.level).toUpperCase()] || '#6b7280'} />
              <text y={n.id === centre ? 30 : 25} text-anchor="middle">{n.name || n.id}</text>
              <title>{`${n.id} · ${n.type} · ${String(n.level).toLowerCase()} · distance ${n.distance}`}</title>
            </g>
          );
        })}
      </g>
    </svg>
  );
}

export function GraphPage({ id, params }) {
  const mode = params.get('mode') || 'neighbourhood';
  const [hops, setHops] = useState(Number(params.get('hops') || 2));
  const [depth, setDepth] = useState(6);
  const q = useQuery(mode === 'neighbourhood' ? NEIGHBOURHOOD : WALK(mode),
    mode === 'neighbourhood' ? { id, hops } : { id, depth }, [id, mode, hops, depth]);
  const view = useMemo(() => {
    if (!q.data || !q.data.asset) return null;
    if (mode === 'neighbourhood') return q.data.neighbourhood;
    return fromWalk(q.data.asset, q.data.asset[mode], mode === 'rootCauses');
  }, [q.data]);
  const name = q.data && q.data.asset ? q.data.asset.name || id : id;
  const tab = (m, label) => <a class={`button ${mode === m ? 'on' : ''}`} href={href('graph', id, m === 'neighbourhood' ? null : { mode: m })}>{label}</a>;
  return (
    <div>
      <h1>{name} <span class="muted small">graph</span></h1>
      <div class="toolbar">
        {tab('neighbourhood', 'Neighbourhood')}{tab('impact', 'Impact (downstream)')}{tab('rootCauses', 'Root causes (upstream)')}
        {mode === 'neighbourhood'
          ? <label>hops <select value={hops} onChange={(e) => setHops(Number(e.currentTarget.value))}>{[1, 2, 3, 4].map((h) => <option value={h}>{h}</option>)}</select></label>
          : <label>depth <select value={depth} onChange={(e) => setDepth(Number(e.currentTarget.value))}>{[1, 2, 4, 6, 10].map((h) => <option value={h}>{h}</option>)}</select></label>}
        <a class="link" href={href('asset', id)}>asset page</a>
      </div>
      <ErrorBox error={q.error} />
      {q.loading && !view ? <Loading /> : null}
      {view ? (
        <>
          <p class="muted small" data-testid="graph-info">
            {view.nodes.length} assets, {view.edges.length} relations{view.truncated ? ' (truncated)' : ''} · drag to pan, wheel to zoom, click an asset to open it
            {mode !== 'neighbourhood' && view.nodes.length === 1 ? ` · nothing ${mode === 'impact' ? 'downstream' : 'upstream'}` : ''}
          </p>
          <Canvas view={view} centre={id} />
          <p class="legend small">
            {Object.entries(EDGE_COLOURS).map(([t, c]) => <span><i style={{ background: c }} />{t}</span>)}
          </p>
        </>
      ) : null}
    </div>
  );
}
