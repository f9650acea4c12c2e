// The CustomResourceDefinition of system-upgrade-controller's Plan, for tests that play the controller on
// the fixture apiserver (which has no controllers of its own).
//
// Written by hand from the upstream Go types, github.com/rancher/system-upgrade-controller,
// pkg/apis/upgrade.cattle.io/v1/types.go (Plan, PlanSpec, PlanStatus, ContainerSpec, DrainSpec), with the
// fields the controller's own CRD declares; nested types Outpost never sets (pod templates, tolerations,
// selectors) keep their shape open, as a structural schema allows.

const open = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

const containerSpec = {
  type: 'object',
  properties: {
    image: { type: 'string' },
    command: { type: 'array', items: { type: 'string' } },
    args: { type: 'array', items: { type: 'string' } },
    envs: { type: 'array', items: open },
    envFrom: { type: 'array', items: open },
    volumes: { type: 'array', items: open },
    securityContext: open,
  },
};

export const upgradePlanCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'plans.upgrade.cattle.io' },
  spec: {
    group: 'upgrade.cattle.io',
    names: { kind: 'Plan', listKind: 'PlanList', plural: 'plans', singular: 'plan' },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            required: ['spec'],
            properties: {
              spec: {
                type: 'object',
                required: ['upgrade'],
                properties: {
                  concurrency: { type: 'integer', minimum: 0 },
                  nodeSelector: open,
                  serviceAccountName: { type: 'string' },
                  channel: { type: 'string' },
                  version: { type: 'string' },
                  secrets: { type: 'array', items: open },
                  tolerations: { type: 'array', items: open },
                  exclusive: { type: 'boolean' },
                  window: open,
                  prepare: containerSpec,
                  cordon: { type: 'boolean' },
                  drain: {
                    type: 'object',
                    properties: {
                      timeout: { type: 'string' },
                      gracePeriod: { type: 'integer' },
                      deleteLocalData: { type: 'boolean' },
                      deleteEmptydirData: { type: 'boolean' },
                      ignoreDaemonSets: { type: 'boolean' },
                      force: { type: 'boolean' },
                      disableEviction: { type: 'boolean' },
                      skipWaitForDeleteTimeout: { type: 'integer' },
                      podSelector: open,
                    },
                  },
                  upgrade: containerSpec,
                },
              },
              status: {
                type: 'object',
                properties: {
                  conditions: { type: 'array', items: open },
                  latestVersion: { type: 'string' },
                  latestHash: { type: 'string' },
                  applying: { type: 'array', items: { type: 'string' } },
                },
              },
            },
          },
        },
      },
    ],
  },
};
