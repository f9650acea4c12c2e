import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../model/manifest.ts';
import { podTargets } from './prometheus-source.ts';

const pod = (name: string, ns: string, annotations: Record<string, string>, status: object): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, annotations },
  status,
});
const running = { phase: 'Running', podIP: '10.1.2.3' };

test('pods annotated the Prometheus way in the bundle’s namespaces are scraped at their IP', () => {
  const pods = [
    pod('a', 'pos', { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9100' }, running),
    pod(
      'b',
      'pos',
      { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': 'stats' },
      {
        phase: 'Running',
        podIP: 'fd00::7',
      },
    ),
    pod('c', 'pos', { 'prometheus.io/scrape': 'false', 'prometheus.io/port': '9100' }, running),
    pod('d', 'pos', { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9100' }, { phase: 'Pending' }),
    pod('e', 'pos', { 'prometheus.io/scrape': 'true' }, running),
    pod('f', 'other', { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9100' }, running),
  ];
  assert.deepEqual(podTargets(pods, ['pos']), [
    'http://10.1.2.3:9100/metrics',
    'http://[fd00::7]:8080/stats',
  ]);
});
