// `npm run docs`: writes what is generated from the code: customers/roster.schema.json, the
// roster's JSON Schema for editors (test/unit/customers/roster-schema.test.ts fails when it drifts).
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { rosterJsonSchema } from "../customers/schema";

const file = path.resolve(__dirname, "..", "customers", "roster.schema.json");
writeFileSync(file, `${JSON.stringify(rosterJsonSchema(), null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), file)}`);
