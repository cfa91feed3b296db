import { condition, defineQuery, defineSignal, setHandler } from '@temporalio/workflow';

/** A workflow that outlives its servers in the durable-stack test: it keeps notes until told to finish. */
export const addNote = defineSignal<[string]>('addNote');
export const finish = defineSignal('finish');
export const notes = defineQuery<string[]>('notes');

export async function notesWorkflow(): Promise<string[]> {
  const kept: string[] = [];
  let finished = false;
  setHandler(addNote, (note) => void kept.push(note));
  setHandler(finish, () => void (finished = true));
  setHandler(notes, () => kept);
  await condition(() => finished);
  return kept;
}
