// Runs ESLint's Node API outside jest, whose module sandbox cannot load eslint.config.mjs (an ES module).
// Reads {cwd, texts: [{filePath, source}], files: [path]} on stdin; writes each result's messages as JSON.
import { ESLint } from 'eslint';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { cwd, texts, files } = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const eslint = new ESLint({ cwd });
const unignored = new ESLint({ cwd, ignore: false });
const messages = (results) => results.flatMap((result) => result.messages);

const output = {
  texts: [],
  files: [],
  ignored: await Promise.all(files.map((file) => eslint.isPathIgnored(file))),
};
for (const { filePath, source } of texts) {
  output.texts.push(messages(await eslint.lintText(source, { filePath })));
}
for (const file of files) output.files.push(messages(await unignored.lintFiles([file])));
process.stdout.write(JSON.stringify(output));
