import { Command } from "commander";
import * as path from "node:path";
import { ROTATED_KINDS, type RotatedKind } from "../../core/rotation";
import { REGISTRY_KINDS } from "../../core/tiers";
import { InputError, positiveInt, projectDirOf, stackName, type CommandContext } from "../options";

/** `intake rotate`: a new generation of a customer's long-lived credentials, the previous kept through an overlap. */
export function register(cli: Command, ctx: CommandContext): void {
  cli
    .command("rotate")
    .description(
      "rotate a customer's long-lived credentials: the roster gets a new generation, pulumi up creates it and keeps the previous through the overlap",
    )
    .requiredOption("--customer <id>", "customer id")
    .option("--kind <kind>", `one kind: ${ROTATED_KINDS.join(", ")} (default: each of them the customer holds)`, (v: string) => {
      if (!(REGISTRY_KINDS as readonly string[]).includes(v))
        throw new InputError(`--kind: "${v}" is not a registry kind; one of ${ROTATED_KINDS.join(", ")} has a long-lived credential to rotate`);
      if (!(ROTATED_KINDS as readonly string[]).includes(v))
        throw new InputError(`--kind: ${v} has no long-lived credential to rotate; one of ${ROTATED_KINDS.join(", ")}`);
      return v as RotatedKind;
    })
    .option(
      "--overlap-days <n>",
      "days the previous credential keeps working (1-90)",
      (v: string) => {
        const n = positiveInt(v);
        if (n > 90) throw new InputError(`--overlap-days: ${v} is over 90; an overlap is days, not months`);
        return n;
      },
      7,
    )
    .option("--stack <name>", "stack whose settings to use", stackName, "dev")
    .option("--roster <path>", "roster file (default: the stack's roster setting)")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .option("--job <id>", "the job's id, the trailer Intake-Job of its roster commit where git holds the roster (default: a new one)")
    .action(async (opts: { customer: string; kind?: RotatedKind; overlapDays: number; stack: string; roster?: string; project?: string; job?: string }) => {
      const { customerById } = await import("../../core/access.js");
      const { listStacks, loadStackContext, rosterOptionsFor, stackSettings } = await import("../../core/stack.js");
      const { rosterStore } = await import("../../customers/store.js");
      const projectDir = projectDirOf(opts);
      const { settings, roster } = loadStackContext({ projectDir, stack: opts.stack, rosterPath: opts.roster && path.resolve(opts.roster) });
      const c = customerById(roster, opts.customer);
      if (!c) throw new InputError(`--customer: ${opts.customer} is not in ${roster.source}`);
      // Rotated kinds the customer holds on this stack (Artifact Registry only where keys are declared).
      const { rotation, RotationRefused } = await import("../../automation/rotate.js");
      let r: Awaited<ReturnType<typeof rotation>>;
      try {
        r = rotation(settings, c, roster.source, { kind: opts.kind, overlapDays: opts.overlapDays, names: { customer: "--customer", kind: "--kind" } });
      } catch (e) {
        if (e instanceof RotationRefused) throw new InputError(e.message);
        throw e;
      }
      const { kinds, until, lines, edit: all } = r;
      const file = path.resolve(opts.roster ?? path.resolve(projectDir, settings.roster));
      const store = rosterStore(file, rosterOptionsFor(settings));
      const git = settings.onboarding?.git;
      let committed = "";
      if (git) {
        // Git holds the roster: the rotation is a commit on its branch, which CI's next up applies.
        const { commitRosterChange, fastForwardWorkTree, rosterGit, RosterGitError } = await import("../../customers/git-roster.js");
        const { randomUUID } = await import("node:crypto");
        const repo = rosterGit(git, file);
        try {
          const r = await commitRosterChange(repo, {
            rosterFile: file,
            customer: c.id,
            subject: `registry-intake: rotate ${c.id} ${kinds.join(", ")}`,
            job: opts.job ?? randomUUID(),
            edit: all,
            validate: (_text, base) => void store.previewOf(base, all),
            onOutput: (l) => ctx.io.err(l),
          });
          committed = r.commit;
          await fastForwardWorkTree(repo.repoDir, git.branch, r.commit, (l) => ctx.io.err(l));
        } catch (e) {
          if (e instanceof RosterGitError) throw new InputError(e.message);
          throw e;
        }
      } else {
        store.preview(all); // the whole roster validated before anything is written
        await store.commit(all);
      }
      // Every stack that reads this roster file applies the rotation at its next update.
      const readers = listStacks(projectDir).filter((st) => {
        try {
          return path.resolve(projectDir, stackSettings(projectDir, st).settings.roster) === file;
        } catch {
          return false;
        }
      });
      const written = committed
        ? `Committed ${committed.slice(0, 12)} to ${settings.onboarding!.git!.branch}: ${roster.source}`
        : `Written to ${roster.source}`;
      const where = readers.length
        ? `${written}, which stack${readers.length === 1 ? "" : "s"} ${readers.join(", ")} read${readers.length === 1 ? "s" : ""}: each creates the new credential${kinds.length > 1 ? "s" : ""} at its next \`pulumi up\` (CI's up.yml from the roster change);`
        : `${written}, which no stack's roster setting names: no \`pulumi up\` applies it until one does;`;
      ctx.io.out(
        [
          ...lines,
          where,
          `the first \`pulumi up\` after ${until} removes the previous one (rotate again only after that up: IAM holds two keys per user). \`intake plan --stack ${settings.stack}\` shows both until then.`,
        ].join("\n"),
      );
    });
}
