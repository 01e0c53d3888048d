import { useEffect, useState } from 'preact/hooks';
import { gql } from './api.js';

/** Run a query when deps change: {data, error, loading, reload}. */
export function useQuery(query, variables, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    gql(query, variables).then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }),
    );
    return () => { live = false; };
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

/** An API error as the API words it, with its code. */
export function ErrorBox({ error }) {
  if (!error) return null;
  return (
    <div class="error" role="alert">
      {error.code ? <b>{error.code}</b> : null} {error.message}
    </div>
  );
}

export function fmt(v, digits = 3) {
  if (v === null || v === undefined) return '–';
  if (typeof v !== 'number') return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  return Number(v.toPrecision(digits + (a >= 1000 ? 2 : a >= 100 ? 1 : 0))).toString();
}

export function when(ts) {
  if (!ts) return '–';
  const d = new Date(ts);
  return d.toLocaleString(undefined, { hour12: false });
}

/** The time of day for today's timestamps, the date too for older ones. */
export function clock(ts) {
  const d = new Date(ts);
  if (d.toDateString() !== new Date().toDateString()) return when(ts);
  return d.toLocaleTimeString(undefined, { hour12: false });
}

export function Loading() { return <p class="muted">loading…</p>; }

export const range = (min, max, unit) =>
  min === null && max === null ? '–' : `${fmt(min)} … ${fmt(max)} ${unit || ''}`;
