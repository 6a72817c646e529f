// The local provider plugins' fake cloud, called as the engine calls them (no engine here).
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { FakeCloudStore, LocalProvider } from "../providers/local-provider";
import { tempDir } from "./tmp";

const urn = (type: string, name: string) => `urn:pulumi:dev::registry-intake::${type}::${name}`;

describe("the local aws plugin's fake cloud", () => {
  it("refuses a second repository of the same name, as ECR does, but takes a second account setting (a put)", async () => {
    const aws = new LocalProvider("aws", new FakeCloudStore(path.join(tempDir("fake-cloud-"), "cloud.json")), "0.0.0");
    const repo = { name: "intake/acme/app", imageTagMutability: "MUTABLE" };
    expect((await aws.create(urn("aws:ecr/repository:Repository", "acme-ecr-app"), repo)).id).toBe("intake/acme/app");
    await expect(aws.create(urn("aws:ecr/repository:Repository", "acme-ecr-app-again"), repo)).rejects.toThrow(/^AlreadyExists: aws:ecr\/repository:Repository intake\/acme\/app exists in the cloud/);
    const setting = { name: "BLOB_MOUNTING", value: "ENABLED" };
    await aws.create(urn("aws:ecr/accountSetting:AccountSetting", "platform-ecr-blob-mounting"), setting);
    expect((await aws.create(urn("aws:ecr/accountSetting:AccountSetting", "other-stack-blob-mounting"), setting)).id).toBe("BLOB_MOUNTING");
  });
});
