import { customerOf, shown, type Finding, type IntakeRule } from "../model";

/** Customer repositories can never be deleted with images in them. */
export const repositoriesRetained: IntakeRule = {
  name: "repositories-retained",
  description: "A customer repository (ECR, Artifact Registry, GitHub, the self-hosted registry's volume) is kept, archived or refuses deletion while it holds images.",
  enforcementLevel: "mandatory",
  resource: (r, ctx): Finding[] => {
    const { id } = customerOf(r, ctx.repoPrefix);
    const kept = r.retainOnDelete === true || r.protect;
    const unknown = r.retainOnDelete === undefined;
    const flag = (why: string): Finding[] => [{ customer: id ?? null, message: `${shown(r)}: ${why}` }];
    switch (r.type) {
      case "aws:ecr/repository:Repository":
        if (r.props.forceDelete === true) return flag("forceDelete would delete the repository with its images");
        return kept || unknown ? [] : flag("is not retainOnDelete or protected: removing the customer would delete it");
      case "gcp:artifactregistry/repository:Repository":
        return kept || unknown ? [] : flag("is not retainOnDelete or protected: deleting it deletes every image in it");
      case "github:index/repository:Repository":
        return r.props.archiveOnDestroy === true || kept ? [] : flag("archiveOnDestroy is off: destroying it deletes the customer's packages");
      case "kubernetes:core/v1:PersistentVolumeClaim":
        return kept || unknown || !/registry/.test(r.name) ? [] : flag("holds the self-hosted registry's images and is not retainOnDelete");
      case "azure-native:containerregistry:Registry":
        return kept || unknown ? [] : flag("holds every customer's ACR images and is not retainOnDelete or protected");
      default:
        return [];
    }
  },
};
