document.getElementById('app').textContent = 'Lume';
