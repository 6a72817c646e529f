// Writes service/openapi.json, the onboarding service's OpenAPI document, from the schemas the API checks with.
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { openApi } from "../service/api";

const file = path.resolve(__dirname, "..", "service", "openapi.json");
writeFileSync(file, `${JSON.stringify(openApi(), null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), file)}`);
