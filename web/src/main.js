// Entry point: wires the API, the live stream, the connection indicator and
// the two pages (#/ charts, #/agent) together.
import 'uplot/dist/uPlot.min.css';
import './styles.css';

import {AgentPage} from './agent_page.js';
import {Api} from './api.js';
import {takeTokenFromUrl} from './auth.js';
import {ChartsPage} from './charts_page.js';
import {ConnectionStatus} from './status.js';
import {LiveStream} from './stream.js';

const token = takeTokenFromUrl();
const api = new Api(token);
const stream = new LiveStream({token});
new ConnectionStatus(document.getElementById('conn'), stream);

const pages = {
  charts: new ChartsPage({api, stream}),
  agent: new AgentPage({api}),
};
const main = document.getElementById('app');
for (const page of Object.values(pages)) main.append(page.element);

let current = null;
function route() {
  const name = window.location.hash === '#/agent' ? 'agent' : 'charts';
  if (name === current) return;
  if (current) pages[current].hide();
  current = name;
  for (const link of document.querySelectorAll('nav.tabs a')) {
    if (link.dataset.page === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  pages[name].show();
}
window.addEventListener('hashchange', route);

stream.start();
route();

// What the browser test (and a curious developer) reads.
window.vitals = {
  charts: () => pages.charts.describe(),
  agent: () => pages.agent.describe(),
  stream: () => stream.state,
};
