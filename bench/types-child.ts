// Register N resources of one type under the plan's mock engine; print one JSON line.
import * as ecr from "@pulumi/aws/ecr";
import * as containerregistry from "@pulumi/azure-native/containerregistry";
import * as artifactregistry from "@pulumi/gcp/artifactregistry";
import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { runUnderMocks } from "../planning/engine";

class Plain extends pulumi.ComponentResource {
  constructor(name: string) {
    super("registry-intake:bench:Plain", name, {}, {});
    this.registerOutputs({});
  }
}

const MAKE: Record<string, (i: number) => void> = {
  component: (i) => new Plain(`c-${i}`),
  ecr: (i) => new ecr.Repository(`r-${i}`, { name: `bench/r-${i}` }),
  gar: (i) => new artifactregistry.Repository(`r-${i}`, { repositoryId: `r-${i}`, format: "DOCKER", location: "europe-west1", project: "bench-project" }),
  github: (i) => new github.Repository(`r-${i}`, { name: `r-${i}`, visibility: "private" }),
  random: (i) => new random.RandomPassword(`r-${i}`, { length: 40, special: false }),
  acr: (i) => new containerregistry.Token(`r-${i}`, { registryName: "bench", resourceGroupName: "rg", tokenName: `t-${i}` }),
};

const [type, n] = [process.argv[2], Number(process.argv[3])];
const t0 = performance.now();
runUnderMocks(
  () => {
    for (let i = 0; i < n; i++) MAKE[type](i);
  },
  { project: "registry-intake", stack: "bench", cloud: { accountId: "111122223333", region: "eu-west-1" } },
).then(() => {
  process.stdout.write(JSON.stringify({ type, count: n, seconds: (performance.now() - t0) / 1000, maxRssMiB: process.resourceUsage().maxRSS / 1024 }) + "\n");
});
