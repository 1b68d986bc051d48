// Starts the real `vitals` binary for a browser test: a temp config and data
// dir, listening on a free loopback port read back from its log line.
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// `listen` and `dir` let a test restart an agent on the same port and data.
export async function startAgent({binary, configs, listen = '127.0.0.1:0', dir = null, timeoutMs = 20000}) {
  dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'vitals-browser-'));
  const confDir = path.join(dir, 'conf.d');
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(confDir, {recursive: true});
  fs.mkdirSync(dataDir, {recursive: true});
  fs.writeFileSync(path.join(confDir, '00-http.toml'), `[agent.http]\nlisten = "${listen}"\n`);
  for (const [name, text] of Object.entries(configs)) fs.writeFileSync(path.join(confDir, name), text);

  const child = spawn(binary, ['run', '--config-dir', confDir, '--data-dir', dataDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // However this test ends, no agent (nor its files) outlives it.
  const killOnExit = () => {
    child.kill('SIGKILL');
    if (!process.env.VITALS_KEEP_TEST_DIRS) fs.rmSync(dir, {recursive: true, force: true});
  };
  process.on('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  let log = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    log += chunk;
  });
  const agent = {
    child,
    dir,
    log: () => log,
    async stop({keepDir = false} = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(timer);
      }
      if (!keepDir && !process.env.VITALS_KEEP_TEST_DIRS) fs.rmSync(dir, {recursive: true, force: true});
    },
  };

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = /HTTP API on ([^\s:]+):(\d+)/.exec(log);
    if (match) {
      agent.url = `http://${match[1]}:${match[2]}`;
      agent.listen = `${match[1]}:${match[2]}`;
      return agent;
    }
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await agent.stop();
  throw new Error(`the agent did not start its HTTP API:\n${log}`);
}
