// The cdk8s side of the render benchmark (benchmarks/bench_render.py --cdk8s).
//
//   node synth.js <spec.json> <outdir> [stack|service]
//
// The spec lists, per stack, every service's Deployment and (when it has ports) Service as that stack
// deploys them, built by the benchmark with the renderer's own functions from the same synthetic project
// `render --all` reads. Each becomes a core `ApiObject` in the service's construct; `app.synth()` then
// validates, resolves and writes one YAML file per chart (cdk8s's default).
//
// Two layouts, both natural for cdk8s users:
//   stack   (default) one Chart per stack: three files, the fastest synth cdk8s offers for this catalog;
//   service one Chart per service and stack: a file per service per environment, as our tree has one
//           overlay per service per environment (cdk8s's synth resolves the whole app per chart, so this
//           is several times slower).
// Nothing here is slower than it needs to be: the spec is read once and synthesis is cdk8s's own.
'use strict';

const fs = require('fs');
const { ApiObject, App, Chart } = require('cdk8s');
const { Construct } = require('constructs');

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
      for (const obj of svc.objects) {
        new ApiObject(scope, obj.kind.toLowerCase(), obj);
      }
    }
  }
  app.synth();
}

main(process.argv.slice(2));
