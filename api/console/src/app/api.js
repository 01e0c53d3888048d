// Talking to twinql: GraphQL over HTTP (fetch), subscriptions over graphql-transport-ws
// (the token goes in connection_init's payload, as the API expects), the session token
// (sessionStorage: gone when the tab closes).
import { createClient } from 'graphql-ws/client';

const KEY = 'twinql.token';

export const session = {
  get token() { return sessionStorage.getItem(KEY) || ''; },
  set(token) { token ? sessionStorage.setItem(KEY, token) : sessionStorage.removeItem(KEY); },
};

export class ApiError extends Error {
  constructor(message, code) { super(message); this.code = code || ''; }
}

function authHeaders() {
  return session.token ? { Authorization: `Bearer ${session.token}` } : {};
}

export async function gql(query, variables = {}) {
  let r;
  try {
    r = await fetch('/graphql', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...authHeaders() },
      body: JSON.stringify({ query, variables }),
    });
  } catch (e) {
    throw new ApiError(`twinql did not answer: ${e.message}`, 'UNAVAILABLE');
  }
  let body;
  try { body = await r.json(); } catch { throw new ApiError(`HTTP ${r.status} ${r.statusText}`, 'HTTP'); }
  if (body.errors && body.errors.length) {
    const e = body.errors[0];
    throw new ApiError(e.message, e.extensions && e.extensions.code);
  }
  return body.data;
}

/** Who the token belongs to: {name, role, roles, scopes, anonymous, anonymousRead}. */
export async function whoami(token) {
  const r = await fetch('/console/session', {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  const body = await r.json();
  if (!r.ok) throw new ApiError(body.message, body.code);
  return body;
}

let client = null;

function toError(e) {
  if (Array.isArray(e) && e.length) return new ApiError(e[0].message, e[0].extensions && e[0].extensions.code);
  if (e && typeof e.reason === 'string') {
    const coded = /^([A-Z_]+): (.*)$/s.exec(e.reason); // the API's "CODE: message"
    if (coded) return new ApiError(coded[2], coded[1]);
    return new ApiError(e.reason || `connection closed (${e.code})`, 'CLOSED');
  }
  return new ApiError(String(e && e.message || e), '');
}

function ws() {
  if (!client) {
    client = createClient({
      url: location.origin.replace(/^http/, 'ws') + '/graphql',
      connectionParams: () => (session.token ? { Authorization: `Bearer ${session.token}` } : {}),
      retryAttempts: 20,
      // 4403: the API refused the token (its words are the close reason); retrying
      // would not change that, so the subscriber sees the refusal at once.
      shouldRetry: (e) => !(e && e.code === 4403),
    });
  }
  return client;
}

/** Subscribe; returns the function that ends the subscription. */
export function subscribe(query, variables, onData, onError) {
  return ws().subscribe({ query, variables }, {
    next: (m) => (m.errors && m.errors.length ? onError && onError(toError(m.errors)) : onData(m.data)),
    error: (e) => onError && onError(toError(e)),
    complete: () => {},
  });
}

export function closeSubscriptions() {
  if (client) client.dispose();
  client = null;
}
