// A Helm chart repository on 127.0.0.1 as teams host one: charts packaged by the real `helm package`,
// an index.yaml made by the real `helm repo index`, and a static HTTP server handing out the files
// (which is all a chart repository is).

import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join, normalize } from 'node:path';
import { runTool } from './tools.ts';

export interface ChartRepository {
  /** http://127.0.0.1:PORT, as Chart.yaml's `repository:` names it */
  url: string;
  /** requests it answered, paths only: a test tells whether charts were fetched */
  requests: string[];
  close(): Promise<void>;
}

/** Serves `dir` after packaging each chart folder in `charts` into it and indexing it. */
export async function startChartRepository(dir: string, charts: readonly string[]): Promise<ChartRepository> {
  await mkdir(dir, { recursive: true });
  const home = { HELM_CONFIG_HOME: join(dir, '.helm'), HELM_CACHE_HOME: join(dir, '.helm') };
  for (const chart of charts) runTool('helm', ['package', chart, '--destination', dir], { env: home });
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    requests.push(path);
    readFile(join(dir, path)).then(
      (body) => res.writeHead(200).end(body),
      () => res.writeHead(404).end('not found'),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  runTool('helm', ['repo', 'index', dir, '--url', url], { env: home });
  return {
    url,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
