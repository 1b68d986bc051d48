// The bearer token, when the agent has one: opened as `/?token=...`, the
// dashboard keeps the token for this tab (the agent also sets the
// `vitals_token` cookie on that answer, which carries it across reloads) and
// takes it out of the address bar so it does not end up in history or
// screenshots.
const STORAGE_KEY = 'vitals.token';

export function takeTokenFromUrl() {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(STORAGE_KEY, fromUrl);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem(STORAGE_KEY) || '';
}
