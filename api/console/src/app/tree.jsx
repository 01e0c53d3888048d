// The asset tree: roots first, children fetched when a node opens (50 at a time), and a
// search over ids and names filtered by ISA-95 level.
import { useEffect, useState } from 'preact/hooks';
import { gql } from './api.js';
import { href } from './router.js';
import { ErrorBox } from './util.jsx';

export const LEVELS = ['ENTERPRISE', 'SITE', 'AREA', 'LINE', 'UNIT', 'EQUIPMENT', 'COMPONENT'];
const PAGE = 50;

const ROOTS = `query($after: String) { assets(rootsOnly: true, first: ${PAGE}, after: $after) {
  nodes { id name level type } pageInfo { hasNextPage endCursor } } }`;
const CHILDREN = `query($id: ID!, $after: String) { asset(id: $id) { children(first: ${PAGE}, after: $after) {
  nodes { id name level type } pageInfo { hasNextPage endCursor } } } }`;
const SEARCH = `query($q: String, $level: AssetLevel) { assets(search: $q, level: $level, first: ${PAGE}) {
  nodes { id name level type } pageInfo { hasNextPage } } }`;

function usePages(load, enabled) {
  const [items, setItems] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState(null);
  const fetchPage = async (after) => {
    try {
      const conn = await load(after);
      setItems((prev) => [...(after ? prev || [] : []), ...conn.nodes]);
      setCursor(conn.pageInfo.endCursor);
      setMore(conn.pageInfo.hasNextPage);
    } catch (e) { setError(e); }
  };
  useEffect(() => { if (enabled && items === null) fetchPage(null); }, [enabled]);
  return { items, more, error, next: () => fetchPage(cursor) };
}

function Node({ a, selected, focus }) {
  const [open, setOpen] = useState(false);
  const kids = usePages(async (after) => (await gql(CHILDREN, { id: a.id, after })).asset.children, open);
  useEffect(() => { if (focus.includes(a.id)) setOpen(true); }, [focus.join(' ')]);
  const leaf = kids.items && kids.items.length === 0;
  return (
    <li>
      <div class={`node ${selected === a.id ? 'sel' : ''}`}>
        <button class="tog" aria-label={open ? 'collapse' : 'expand'} data-testid={`toggle-${a.id}`}
          onClick={() => setOpen(!open)}>{leaf ? '·' : open ? '▾' : '▸'}</button>
        <a href={href('asset', a.id)} title={`${a.id} (${a.type})`} data-testid={`tree-${a.id}`}>{a.name || a.id}</a>
        <span class={`lvl lvl-${a.level}`}>{a.level.slice(0, 3)}</span>
      </div>
      {open && kids.items && kids.items.length ? (
        <ul>
          {kids.items.map((c) => <Node key={c.id} a={c} selected={selected} focus={focus} />)}
          {kids.more ? <li><button class="link" onClick={kids.next}>more…</button></li> : null}
        </ul>
      ) : null}
      <ErrorBox error={kids.error} />
    </li>
  );
}

export function Tree({ selected, focus }) {
  const [q, setQ] = useState('');
  const [level, setLevel] = useState('');
  const [found, setFound] = useState(null);
  const [error, setError] = useState(null);
  const roots = usePages(async (after) => (await gql(ROOTS, { after })).assets, true);
  useEffect(() => {
    if (!q.trim() && !level) { setFound(null); return undefined; }
    const t = setTimeout(() => {
      gql(SEARCH, { q: q.trim() || null, level: level || null }).then(
        (d) => { setFound(d.assets); setError(null); }, setError);
    }, 200);
    return () => clearTimeout(t);
  }, [q, level]);
  return (
    <div class="tree">
      <div class="search">
        <input type="search" placeholder="Search assets…" value={q} data-testid="tree-search"
          onInput={(e) => setQ(e.currentTarget.value)} />
        <select value={level} onChange={(e) => setLevel(e.currentTarget.value)} aria-label="level">
          <option value="">all levels</option>
          {LEVELS.map((l) => <option value={l}>{l.toLowerCase()}</option>)}
        </select>
      </div>
      <ErrorBox error={error || roots.error} />
      {found ? (
        <ul class="found">
          {found.nodes.map((a) => (
            <li key={a.id} class={selected === a.id ? 'sel' : ''}>
              <a href={href('asset', a.id)} data-testid={`found-${a.id}`}>{a.name || a.id}</a>
              <span class={`lvl lvl-${a.level}`}>{a.level.slice(0, 3)}</span>
              <div class="muted small">{a.id}</div>
            </li>
          ))}
          {found.nodes.length === 0 ? <li class="muted">no asset matches</li> : null}
          {found.pageInfo.hasNextPage ? <li class="muted small">first {PAGE} shown: refine the search</li> : null}
        </ul>
      ) : (
        <ul class="roots">
          {(roots.items || []).map((a) => <Node key={a.id} a={a} selected={selected} focus={focus} />)}
          {roots.more ? <li><button class="link" onClick={roots.next}>more…</button></li> : null}
        </ul>
      )}
    </div>
  );
}
