export { rolloutWorkflow } from './rolloutWorkflow';
