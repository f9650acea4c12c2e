import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kubeRequestShape, tunnelRefusal } from './tunnel.ts';

const shape = (method: string, url: string) => {
  const u = new URL(url, 'http://site');
  return kubeRequestShape(method, u.pathname, u.searchParams);
};

test('a Kubernetes path reads as verb, resource and subresource', () => {
  assert.deepEqual(shape('GET', '/api/v1/namespaces/default/pods'), {
    verb: 'list',
    resource: 'pods',
    subresource: '',
  });
  assert.deepEqual(shape('GET', '/api/v1/namespaces/default/pods?watch=true'), {
    verb: 'watch',
    resource: 'pods',
    subresource: '',
  });
  assert.deepEqual(shape('GET', '/apis/apps/v1/namespaces/x/deployments/till'), {
    verb: 'get',
    resource: 'deployments',
    subresource: '',
  });
  assert.deepEqual(shape('POST', '/api/v1/namespaces/x/pods/till-0/exec?command=sh'), {
    verb: 'create',
    resource: 'pods',
    subresource: 'exec',
  });
  assert.deepEqual(shape('GET', '/api/v1/namespaces/x'), {
    verb: 'get',
    resource: 'namespaces',
    subresource: '',
  });
  assert.deepEqual(shape('DELETE', '/api/v1/namespaces/x/configmaps'), {
    verb: 'deletecollection',
    resource: 'configmaps',
    subresource: '',
  });
  assert.deepEqual(shape('GET', '/version'), { verb: 'get', resource: '', subresource: '' });
});

test('read-only: reads pass, writes and secrets are refused', () => {
  assert.equal(tunnelRefusal('read', shape('GET', '/api/v1/pods')), undefined);
  assert.equal(tunnelRefusal('read', shape('GET', '/api/v1/namespaces/x/pods/p/log')), undefined);
  assert.equal(tunnelRefusal('read', shape('GET', '/apis')), undefined);
  for (const [method, url] of [
    ['POST', '/api/v1/namespaces/x/configmaps'],
    ['PATCH', '/apis/apps/v1/namespaces/x/deployments/d'],
    ['DELETE', '/api/v1/namespaces/x/pods/p'],
    ['POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews'],
  ] as const) {
    assert.match(tunnelRefusal('read', shape(method, url)) ?? '', /read-only/, `${method} ${url}`);
  }
  assert.match(tunnelRefusal('read', shape('GET', '/api/v1/namespaces/x/secrets/s')) ?? '', /secrets/);
  assert.match(tunnelRefusal('read', shape('GET', '/api/v1/secrets?watch=1')) ?? '', /secrets/);
});

test('write: anything but the interactive subresources, which no mode carries', () => {
  assert.equal(tunnelRefusal('write', shape('DELETE', '/api/v1/namespaces/x/pods/p')), undefined);
  assert.equal(tunnelRefusal('write', shape('GET', '/api/v1/namespaces/x/secrets/s')), undefined);
  for (const sub of ['exec', 'attach', 'portforward', 'proxy']) {
    for (const mode of ['read', 'write'] as const) {
      assert.match(
        tunnelRefusal(mode, shape('GET', `/api/v1/namespaces/x/pods/p/${sub}`)) ?? '',
        /not carried/,
        `${mode} ${sub}`,
      );
    }
  }
  assert.match(
    tunnelRefusal('write', shape('GET', '/api/v1/namespaces/x/services/s/proxy/metrics')) ?? '',
    /not carried/,
  );
});
