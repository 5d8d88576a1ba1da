// MathJax 3 reads this object when tex-chtml.js loads: typeset only what pymdownx.arithmatex marked
// (class "arithmatex", delimiters \( \) and \[ \]), nothing else on the page.
window.MathJax = {
  tex: {inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]], processEscapes: true, processEnvironments: true},
  options: {ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex"},
};
