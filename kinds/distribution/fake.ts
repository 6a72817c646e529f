import bcrypt from "bcrypt";
import { alnum, digest, k8s, type KindFake } from "../fake";

/** bcrypt's own base64 alphabet, for salts. */
const BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** The robots' passwords, and the registry's own objects on the cluster. */
export const distributionFake: KindFake = {
  makers: {
    "random:index/randomPassword:RandomPassword": (name, i) => {
      const result = alnum(`password:${name}`, Number(i.length ?? 32));
      // A real bcrypt hash (cost 4: this is a plan; native, as the broker checks it), so an access list from the plan verifies; its
      // salt from the name, so every plan of the same roster has the same hash.
      const salt = `$2b$04$${[...Buffer.from(digest("salt", name), "hex")]
        .slice(0, 22)
        .map((b) => BCRYPT_ALPHABET[b % 64])
        .join("")}`;
      return { id: "none", state: { ...i, result, bcryptHash: bcrypt.hashSync(result, salt) } };
    },
    "kubernetes:core/v1:PersistentVolumeClaim": k8s,
    "kubernetes:apps/v1:Deployment": k8s,
    "kubernetes:core/v1:Service": k8s,
    "kubernetes:core/v1:ConfigMap": k8s,
  },
};
