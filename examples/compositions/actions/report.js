// Turns the long job's result into a short report.
function main(params) {
  return { report: `counted to ${params.count}; the steps sum to ${params.sum}`, count: params.count, sum: params.sum }
}
