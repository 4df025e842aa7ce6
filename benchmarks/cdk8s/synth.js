// The cdk8s side of the render benchmark (benchmarks/bench_render.py --cdk8s).
//
//   node synth.js <spec.json> <outdir> [stack|service]
//
// The spec lists, per stack, every service's values as that stack deploys them (image with registry and
// tag, replicas, resources, environment variables, probes, labels), resolved by the benchmark from the
// same synthetic project `render --all` reads. Each service gets a construct with its Deployment and, when
// it has ports, its Service, as core `ApiObject`s shaped like the objects the renderer's base and overlay
// build into. `app.synth()` then validates, resolves and writes one YAML file per chart (cdk8s's default).
//
// Two layouts, both natural for cdk8s users:
//   stack   (default) one Chart per stack: three files, the fastest synth cdk8s offers for this catalog;
//   service one Chart per service and stack: a file per service per environment, as our tree has one
//           overlay per service per environment (cdk8s's synth resolves the whole app per chart, so this
//           is several times slower).
// Nothing here is slower than it needs to be: the spec is read once, the constant parts are plain object
// literals, and synthesis is cdk8s's own.
'use strict';

const fs = require('fs');
const { ApiObject, App, Chart } = require('cdk8s');
const { Construct } = require('constructs');

const RUN_AS = 10001;
const PRESTOP_SLEEP_SECONDS = 15;

function deployment(svc) {
  const container = {
    name: svc.name,
    image: svc.image,
    imagePullPolicy: 'Always',
    resources: svc.resources,
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
    },
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
  if (svc.ports.length > 0) {
    container.ports = svc.ports.map((p) => ({ name: p.name, containerPort: p.containerPort, protocol: 'TCP' }));
    container.lifecycle = { preStop: { sleep: { seconds: PRESTOP_SLEEP_SECONDS } } };
  }
  if (svc.env.length > 0) container.env = svc.env;
  if (svc.livenessProbe) container.livenessProbe = svc.livenessProbe;
  if (svc.readinessProbe) container.readinessProbe = svc.readinessProbe;
  const spec = {
    revisionHistoryLimit: 5,
    selector: { matchLabels: svc.selector },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
    template: {
      metadata: { labels: svc.podLabels },
      spec: {
        serviceAccountName: svc.name,
        automountServiceAccountToken: false,
        securityContext: {
          runAsNonRoot: true,
          runAsUser: RUN_AS,
          runAsGroup: RUN_AS,
          fsGroup: RUN_AS,
          seccompProfile: { type: 'RuntimeDefault' },
        },
        terminationGracePeriodSeconds: svc.terminationGracePeriodSeconds,
        topologySpreadConstraints: [{
          maxSkew: 1,
          topologyKey: 'topology.kubernetes.io/zone',
          whenUnsatisfiable: 'ScheduleAnyway',
          labelSelector: { matchLabels: svc.selector },
        }],
        containers: [container],
        volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
      },
    },
  };
  // An autoscaled service leaves the count to its autoscaler, as the rendered Deployment does.
  if (svc.replicas !== null) spec.replicas = svc.replicas;
  return spec;
}

function service(svc) {
  return {
    type: 'ClusterIP',
    selector: svc.selector,
    ports: svc.ports.map((p) => ({ name: p.name, port: p.servicePort, targetPort: p.name, protocol: 'TCP' })),
  };
}

function metadata(svc) {
  const meta = { name: svc.name, namespace: svc.namespace, labels: svc.labels };
  if (svc.description) meta.annotations = { 'gitops-platform.io/description': svc.description };
  return meta;
}

function main(argv) {
  const [specPath, outdir, layout = 'stack'] = argv;
  if (argv.length < 2 || argv.length > 3 || !['stack', 'service'].includes(layout)) {
    process.stderr.write('usage: node synth.js <spec.json> <outdir> [stack|service]\n');
    process.exit(2);
  }
  const spec = JSON.parse(fs.readFileSync(specPath, 'utf8'));
  const app = new App({ outdir });
  for (const stack of spec.stacks) {
    const stackChart = layout === 'stack' ? new Chart(app, stack.environment) : null;
    for (const svc of stack.services) {
      const scope = stackChart
        ? new Construct(stackChart, svc.name)
        : new Chart(app, `${stack.environment}-${svc.name}`);
      new ApiObject(scope, 'deployment', {
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: metadata(svc), spec: deployment(svc),
      });
      if (svc.ports.length > 0) {
        new ApiObject(scope, 'service', {
          apiVersion: 'v1', kind: 'Service', metadata: metadata(svc), spec: service(svc),
        });
      }
    }
  }
  app.synth();
}

main(process.argv.slice(2));
