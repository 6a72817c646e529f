// A local Kubernetes cluster for running the stacks by hand against the real Pulumi Kubernetes
// provider: the engine tests' own (testing/kube.ts), built by scripts/kube.sh. Prints what to
// export, then runs until Ctrl-C, which stops every process and removes the cluster's folder.
//
//   npm run --silent kube:cluster -- [namespace...]
import { kubeBinDir, kubeUnavailable, LocalCluster } from "../testing/kube";

async function main(): Promise<void> {
  process.stderr.write("kube-cluster: building or finding the Kubernetes parts (scripts/kube.sh)...\n");
  const why = kubeUnavailable();
  if (why) {
    process.stderr.write(`kube-cluster: ${why}\n`);
    process.exit(1);
  }
  const cluster = await LocalCluster.start();
  await cluster.installEsoCrds();
  await cluster.createNamespaces(process.argv.slice(2));
  process.stdout.write(`export KUBECONFIG=${cluster.kubeconfig}\nexport PATH="${kubeBinDir()}:$PATH"\n`);
  process.stderr.write(`kube-cluster: API server ${cluster.server} with a fake kubelet; ESO's CRDs applied; Ctrl-C stops it\n`);
  const stop = async () => {
    await cluster.stop();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  setInterval(() => {}, 1 << 30);
}

void main();
