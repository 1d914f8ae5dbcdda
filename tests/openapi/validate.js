// Validate an OpenAPI document (file given as the first argument) with
// @apidevtools/swagger-parser, independently of svcbroker's own code.
"use strict";
const fs = require("fs");
const SwaggerParser = require("@apidevtools/swagger-parser");

const doc = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
SwaggerParser.validate(doc)
  .then((api) => {
    const n = Object.keys(api.paths || {}).length;
    console.log("valid OpenAPI " + api.openapi + " document, " + n + " paths");
  })
  .catch((err) => {
    console.error("invalid: " + String(err.message).split("\n").slice(0, 40).join("\n"));
    process.exit(1);
  });
