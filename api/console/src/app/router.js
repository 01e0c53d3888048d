// Hash routes: #/asset/<id>, #/graph/<id>?mode=impact, #/whatif/<id>, #/sources, #/rejected.
import { useEffect, useState } from 'preact/hooks';

export function parse(hash) {
  const [path, query = ''] = hash.replace(/^#\/?/, '').split('?');
  const [page = '', ...rest] = path.split('/');
  return { page, id: decodeURIComponent(rest.join('/')), params: new URLSearchParams(query) };
}

export function useRoute() {
  const [route, setRoute] = useState(parse(location.hash));
  useEffect(() => {
    const on = () => setRoute(parse(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export const href = (page, id, params) =>
  `#/${page}${id ? '/' + encodeURIComponent(id) : ''}${params ? '?' + new URLSearchParams(params) : ''}`;

export function go(page, id, params) { location.hash = href(page, id, params); }
