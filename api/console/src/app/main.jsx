// The twinql operator console: login, asset tree, asset pages, graph, what-if, sources.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { closeSubscriptions, session, whoami } from './api.js';
import { AssetPage } from './asset.jsx';
import { GraphPage } from './graph.jsx';
import { Home, RejectedPage, SourcesPage } from './pages.jsx';
import { href, useRoute } from './router.js';
import { Tree } from './tree.jsx';
import { ErrorBox } from './util.jsx';
import { WhatIfPage } from './whatif.jsx';
import './style.css';

const ANONYMOUS = 'twinql.anonymous'; // read-only browsing chosen for this tab

function Login({ onLogin, anonymousRead }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const who = await whoami(token.trim());
      session.set(token.trim());
      onLogin(who);
    } catch (err) { setError(err); }
  };
  const anonymous = async () => {
    try {
      const who = await whoami('');
      sessionStorage.setItem(ANONYMOUS, '1');
      onLogin(who);
    } catch (err) { setError(err); }
  };
  return (
    <main class="login">
      <form onSubmit={submit} class="card">
        <h1>twinql</h1>
        <p class="muted">Sign in with an API token. It is kept for this tab only (sessionStorage).</p>
        <label>API token
          <input name="token" type="password" autocomplete="off" value={token}
            onInput={(e) => setToken(e.currentTarget.value)} autofocus />
        </label>
        <button type="submit" disabled={!token.trim()}>Sign in</button>
        {anonymousRead ? <button type="button" class="link" onClick={anonymous}>Browse read-only without a token</button> : null}
        <ErrorBox error={error} />
        <p class="muted small">Keys come from TWINQL_TOKENS, first-keys.json in the data directory (at first start) or twinql keys create.</p>
      </form>
    </main>
  );
}

function App() {
  const [who, setWho] = useState(undefined);
  const [anonymousRead, setAnonymousRead] = useState(false);
  const [focus, setFocus] = useState([]);
  const route = useRoute();

  useEffect(() => {
    whoami(session.token).then((w) => {
      setAnonymousRead(w.anonymousRead);
      setWho(session.token || (w.anonymousRead && sessionStorage.getItem(ANONYMOUS)) ? w : null);
    }, () => { session.set(''); setWho(null); });
  }, []);

  if (who === undefined) return <p class="muted pad">loading…</p>;
  if (!who) return <Login onLogin={setWho} anonymousRead={anonymousRead} />;
  const can = (role) => who.roles.includes(role);
  const logout = () => { session.set(''); sessionStorage.removeItem(ANONYMOUS); closeSubscriptions(); setWho(null); };
  const ctx = { can, setFocus, who };

  let page;
  if (route.page === 'asset' && route.id) page = <AssetPage key={route.id} id={route.id} ctx={ctx} />;
  else if (route.page === 'graph' && route.id) page = <GraphPage key={route.id} id={route.id} params={route.params} />;
  else if (route.page === 'whatif' && route.id) page = <WhatIfPage key={route.id} id={route.id} ctx={ctx} />;
  else if (route.page === 'sources') page = <SourcesPage />;
  else if (route.page === 'rejected') page = <RejectedPage />;
  else page = <Home />;

  return (
    <div class="shell">
      <header>
        <a class="brand" href="#/">twinql</a>
        <nav>
          <a href="#/" class={route.page === '' ? 'on' : ''}>Overview</a>
          <a href={href('sources')} class={route.page === 'sources' ? 'on' : ''}>Data sources</a>
          <a href={href('rejected')} class={route.page === 'rejected' ? 'on' : ''}>Rejected readings</a>
        </nav>
        <span class="who" data-testid="who">{who.name} · <b>{who.role || 'no role'}</b></span>
        <button class="link" onClick={logout}>Sign out</button>
      </header>
      <aside><Tree selected={route.page === 'asset' ? route.id : ''} focus={focus} /></aside>
      <main>{page}</main>
    </div>
  );
}

render(<App />, document.getElementById('app'));
