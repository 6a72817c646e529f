import { alnum, CREATED, digest, numeric, type KindFake } from "../fake";

/** Artifact Registry and IAM as Google Cloud answers. */
export const garFake: KindFake = {
  makers: {
    "gcp:artifactregistry/repository:Repository": (_n, i) => ({
      id: `projects/${i.project}/locations/${i.location}/repositories/${i.repositoryId}`,
      state: { ...i, name: i.repositoryId, createTime: CREATED },
    }),
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": (_n, i) => ({
      id: `projects/${i.project}/locations/${i.location}/repositories/${i.repository}/${i.role}/${i.member}`,
      state: { ...i, etag: `BwY${alnum(`etag:${i.repository}:${i.member}`, 9)}=` },
    }),
    "gcp:serviceaccount/account:Account": (_n, i) => {
      const email = `${i.accountId}@${i.project}.iam.gserviceaccount.com`;
      return {
        id: `projects/${i.project}/serviceAccounts/${email}`,
        // GCP ignores `disabled` when it creates an account: it starts enabled whatever was asked.
        state: {
          ...i,
          disabled: false,
          email,
          name: `projects/${i.project}/serviceAccounts/${email}`,
          member: `serviceAccount:${email}`,
          uniqueId: numeric(email, 21),
        },
      };
    },
    "gcp:serviceaccount/iAMMember:IAMMember": (_n, i) => ({
      id: `${i.serviceAccountId}/${i.role}/${i.member}`,
      state: { ...i, etag: `BwY${alnum(`etag:${i.serviceAccountId}`, 9)}=` },
    }),
    "gcp:serviceaccount/key:Key": (_n, i) => {
      const keyId = digest("gkey", String(i.serviceAccountId)).slice(0, 40);
      const json = JSON.stringify({
        type: "service_account",
        private_key_id: keyId,
        private_key: "-----BEGIN PRIVATE KEY-----\nFAKE\n-----END PRIVATE KEY-----\n",
      });
      return { id: `${i.serviceAccountId}/keys/${keyId}`, state: { ...i, name: keyId, privateKey: Buffer.from(json).toString("base64"), publicKey: "" } };
    },
  },
};
