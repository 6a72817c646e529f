import type { Settings } from "../../core/settings";
import type { Roster } from "../../customers/roster";
import type { ECRClient } from "@aws-sdk/client-ecr";
import type { STSClient } from "@aws-sdk/client-sts";
import type { MintContext } from "../mint/types";
import type { CredentialFailure, CredentialGroup } from "./types";

/** The AWS clients an ECR minting uses, handed in by tests and embedders (default: the SDK's own). */
export interface EcrClients {
  sts?: STSClient;
  /** Makes the ECR client that runs with the assumed session's credentials. */
  ecrClient?: (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string }) => ECRClient;
}

export interface StackDeliveryOptions {
  settings: Settings;
  roster: Roster;
  /** Minting context for the per-customer kinds (acr, gar, ghcr) and the ECR push role. */
  mint: Omit<MintContext, "settings" | "roster">;
  /** distribution: the delivery robot's password (stack output distributionDeliveryPassword), else the broker's key in `mint.signingKey`. */
  deliveryPassword?: string;
  /** ecr: clients for tests (STS, and the ECR client of the assumed session). */
  ecr?: EcrClients;
  /** ghcr: each customer's machine-user PAT. */
  ghcrToken?: (customer: string) => string | undefined;
  /** YYYY-MM-DD the licenses are judged against; default today. */
  today?: string;
  /** A release of a catalogue product: each customer's namespace is the product's (customerNamespace). */
  product?: string;
}

/** What a kind with one credential for many customers gets to make its credential groups. */
interface SharedDeliveryContext extends StackDeliveryOptions {
  /** The kind's registry host. */
  registry: string;
}

/** A kind whose one credential reaches many customers (blobs mount between them): its credential groups. */
export type SharedDelivery = (customers: string[], ctx: SharedDeliveryContext) => Promise<(CredentialGroup | CredentialFailure)[]>;

/** One credential per batch of customers; a batch that cannot have one fails alone, with its reason. */
export async function each(batches: string[][], get: (batch: string[]) => Promise<CredentialGroup>): Promise<(CredentialGroup | CredentialFailure)[]> {
  const settled = await Promise.allSettled(batches.map(get));
  return settled.map((r, i) =>
    r.status === "fulfilled" ? r.value : { customers: batches[i], reason: r.reason instanceof Error ? r.reason.message : String(r.reason) },
  );
}
